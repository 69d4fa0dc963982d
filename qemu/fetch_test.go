package qemu

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// TestFetchReassembles feeds the control-channel messages of a fetched file
// (several pieces), a missing file and a corrupted piece to the host side.
func TestFetchReassembles(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Fetch: []File{
		{Guest: "/tmp/a.pcap", Host: filepath.Join(dir, "a.pcap")},
		{Guest: "/tmp/missing", Host: filepath.Join(dir, "missing")},
		{Guest: "/tmp/bad", Host: filepath.Join(dir, "bad")},
	}}
	vm := &VM{cfg: cfg, changed: make(chan struct{}), fetching: map[string]*fetchState{}}
	for _, f := range cfg.Fetch {
		vm.res.Fetched = append(vm.res.Fetched, Fetched{File: f, Err: "not sent by the guest"})
	}
	data := make([]byte, 2*proto.FileChunk+123)
	for i := range data {
		data[i] = byte(i * 13)
	}
	for off := 0; off < len(data); off += proto.FileChunk {
		end := min(off+proto.FileChunk, len(data))
		vm.handle(proto.Msg{K: proto.KindFile, M: "/tmp/a.pcap", D: base64.StdEncoding.EncodeToString(data[off:end])})
	}
	vm.handle(proto.Msg{K: proto.KindFileEnd, M: "/tmp/a.pcap"})
	vm.handle(proto.Msg{K: proto.KindFileEnd, M: "/tmp/missing", Err: "open /tmp/missing: no such file or directory"})
	vm.handle(proto.Msg{K: proto.KindFile, M: "/tmp/bad", D: "!!not base64"})
	vm.handle(proto.Msg{K: proto.KindFileEnd, M: "/tmp/bad"})
	vm.handle(proto.Msg{K: proto.KindFileEnd, M: "/etc/passwd"})

	got, err := os.ReadFile(cfg.Fetch[0].Host)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched file: %d bytes (%v), want the %d sent", len(got), err, len(data))
	}
	f := vm.res.Fetched
	if f[0].Err != "" || f[0].Size != int64(len(data)) {
		t.Errorf("a.pcap: %+v", f[0])
	}
	if f[1].Err == "" || f[2].Err == "" {
		t.Errorf("a missing and a corrupted file reported as fetched: %+v %+v", f[1], f[2])
	}
	for _, p := range []string{cfg.Fetch[1].Host, cfg.Fetch[2].Host} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s written although its fetch failed", p)
		}
	}
	if len(vm.res.Log) != 1 {
		t.Errorf("an unrequested file was not logged once: %v", vm.res.Log)
	}
}

// TestFetchWritesSafely: the host file is never written through a symbolic
// link (os.WriteFile followed it, as root under make demo), a device or a
// FIFO is refused, an existing regular file is replaced whole, mode 0600.
func TestFetchWritesSafely(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pcap")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := writeHost(link, []byte("capture")); err == nil {
		t.Error("wrote through a symbolic link")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the link's target now holds %q", b)
	}
	if err := writeHost("/dev/null", []byte("capture")); err == nil {
		t.Error("wrote to a device")
	}
	old := filepath.Join(dir, "old.pcap")
	if err := os.WriteFile(old, []byte("an older, longer capture"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeHost(old, []byte("capture")); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(old)
	if b, _ := os.ReadFile(old); string(b) != "capture" || st.Mode().Perm() != 0o600 {
		t.Errorf("replaced file holds %q, mode %v; want the new capture, 0600", b, st.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("%d entries, want victim, link.pcap and old.pcap (no temporary file left)", len(ents))
	}
}
