package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lab --pcap refuses, before the boot, a path it would not replace: a
// symbolic link (os.WriteFile followed it), a device, a folder.
func TestPcapRefusedByLab(t *testing.T) {
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

// pktgen refuses the run flags it would ignore (it accepted --rt-lock,
// --fault-panic-every and --pcap silently, and left an empty pcap file
// behind after a failed open), before anything is opened or made.
func TestPktgenRefusesIgnoredFlags(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "x.pcap")
	for _, extra := range [][]string{
		{"--rt-lock"}, {"--rt-mem-limit", "128"}, {"--housekeeping-cpus", "0"}, {"--fault-panic-every", "10"},
		{"--pcap", pcap}, {"--handler", "reflect"}, {"--fwd-dev", "0000:00:04.0"},
	} {
		code, out, errOut := runCLI(append([]string{"pktgen", "--dev", "0000:00:03.0"}, extra...)...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, extra[0]+": pktgen does not use it") {
			t.Errorf("pktgen %v: exit %d, stderr %q; want exit 2", extra, code, errOut)
		}
	}
	if _, err := os.Lstat(pcap); err == nil {
		t.Error("pktgen made a pcap file")
	}
}
