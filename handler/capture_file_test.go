package handler

import (
	"os"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
)

// TestCaptureFileWithoutPort: a capture from NewCaptureFile, used outside a
// port (no SetLogger), stops and counts on a write error instead of
// panicking on its nil logger.
func TestCaptureFileWithoutPort(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	c, err := NewCaptureFile(f)
	if err != nil {
		t.Fatal(err) // the header is buffered: it fails only once flushed
	}
	frame := make([]byte, 1514)
	pkts := make([]driver.Packet, 64)
	for i := range pkts {
		pkts[i].Data = frame
	}
	for i := 0; i < 8 && c.Err() == nil; i++ { // 8 x 64 x 1.5 KB overflows the 256 KiB buffer
		c.Handle(pkts)
	}
	if c.Err() == nil || c.Lost() == 0 {
		t.Errorf("writes to /dev/full: err %v, lost %d; want the error and lost frames", c.Err(), c.Lost())
	}
	c.Close()
}
