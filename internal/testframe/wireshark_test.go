package testframe

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWiresharkDecodesAsData: tshark (Wireshark's command line) decodes a
// capture of every source port's test frame as plain UDP data, not as some
// protocol registered for one of the ports (with Port 4791, every frame was
// "InfiniBand"). It needs tshark (Debian package tshark) and skips without.
func TestWiresharkDecodesAsData(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install tshark)")
	}
	var pcap bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	pcap.Write(hdr)
	buf := make([]byte, MaxLen)
	flows := SrcPorts + 1 // every source port, and one flow that wraps
	for flow := 0; flow < flows; flow++ {
		f := Build(buf, Frame{Flow: flow, Seq: uint64(flow), Len: 60 + flow%200})
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(f)))
		pcap.Write(rec)
		pcap.Write(f)
	}
	p := filepath.Join(t.TempDir(), "flows.pcap")
	if err := os.WriteFile(p, pcap.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-n", "-r", p, "-T", "fields", "-e", "frame.protocols").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != flows {
		t.Fatalf("tshark decoded %d frames, want %d", len(lines), flows)
	}
	bad := map[string]int{}
	for _, l := range lines {
		if l != "eth:ethertype:ip:udp:data" {
			bad[l]++
		}
	}
	if len(bad) > 0 {
		t.Errorf("frames not decoded as plain UDP data: %v", bad)
	}
}
