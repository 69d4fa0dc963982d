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
