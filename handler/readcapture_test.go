package handler

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
)

// TestReadCapture: what Capture writes, ReadCapture gives back byte for
// byte and in order; a file that is not pcap is an error.
func TestReadCapture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap")
	c, err := NewCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	pkts := make([]driver.Packet, 3)
	for i := range pkts {
		pkts[i].Data = bytes.Repeat([]byte{byte(i + 1)}, 60+i)
	}
	c.Handle(pkts)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got [][]byte
	n, err := ReadCapture(f, func(b []byte) { got = append(got, append([]byte(nil), b...)) })
	if err != nil || n != len(pkts) || len(got) != n {
		t.Fatalf("ReadCapture: %d records, %v; want %d", n, err, len(pkts))
	}
	for i := range pkts {
		if !bytes.Equal(got[i], pkts[i].Data) {
			t.Errorf("record %d differs", i)
		}
	}
	if _, err := ReadCapture(bytes.NewReader([]byte("not a pcap file at all")), func([]byte) {}); err == nil {
		t.Error("a file that is not pcap was read without error")
	}
}
