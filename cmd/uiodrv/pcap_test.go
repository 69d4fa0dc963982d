package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lab --pcap refuses, before the boot, a path it would not replace: a
// symbolic link (os.WriteFile followed it), a device, a folder.
func TestLabPcapRefused(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link.pcap")
	if err := os.Symlink(filepath.Join(dir, "victim"), link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{link, "is a dangling symbolic link"}, {"/dev/null", "is a device"}, {dir, "is a directory"},
	} {
		code, out, errOut := runCLI("lab", "--pcap", c.path)
		if code != exitUsage || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("lab --pcap %s: exit %d, stderr %q; want exit 2 naming %q", c.path, code, errOut, c.want)
		}
	}
}
