package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenPcapOverwriteSymlink: --pcap-overwrite on a symbolic link must not
// follow it (as root that would truncate whatever it points at, say
// /etc/shadow). Without O_EXCL (overwrite) only O_NOFOLLOW stops it; the
// refusals without --pcap-overwrite are TestOpenPcap's and TestRefusedBeforeOpen's.
func TestOpenPcapOverwriteSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "rx.pcap")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	f, err := openPcap(link, true)
	if err == nil {
		f.Abort()
	}
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("overwrite through a symlink: %v, want a refusal naming the symbolic link", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the symlink's target was changed: %q", b)
	}
}
