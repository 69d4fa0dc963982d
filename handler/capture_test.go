package handler

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
)

func frame(i int, size int) []byte {
	f := make([]byte, size)
	copy(f[0:6], []byte{2, 0, 0, 0, 0, 1})
	copy(f[6:12], []byte{2, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(f[12:], 0x88b5)
	binary.BigEndian.PutUint32(f[14:], uint32(i))
	for j := 18; j < size; j++ {
		f[j] = byte(i + j)
	}
	return f
}

// TestCaptureWritesPcap: a capture on a port holds exactly the frames the
// port received, readable by pcapgo; closing the port closes the capture.
func TestCaptureWritesPcap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap")
	c, err := NewCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := drivertest.NewFakeDevice(drivertest.FakeOptions{IRQ: true}, 128)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	p, err := driver.NewPort(dev, driver.Config{Mode: deferral.ModeSoftirq, Handler: c, IRQCPU: -1, BHCPU: -1})
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i := 0; i < 40; i++ {
		want = append(want, frame(i, 60+i))
		if err := dev.Wire().Send(want[i]); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); c.Frames() < 40; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("captured %d of 40", c.Frames())
		}
	}
	if err := p.Close(); err != nil { // closes the capture
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v", r.LinkType())
	}
	for i := 0; ; i++ {
		data, _, err := r.ReadPacketData()
		if err != nil {
			if i != 40 {
				t.Fatalf("read %d frames (%v), want 40", i, err)
			}
			break
		}
		if !bytes.Equal(data, want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

// TestCaptureWriteErrorLoggedOnce: when writing the pcap file fails, the
// capture goes on taking batches, logs the error once and counts every
// frame not written.
func TestCaptureWriteErrorLoggedOnce(t *testing.T) {
	c, err := NewCapture(filepath.Join(t.TempDir(), "x.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	h := Chain{NewCount(), c}
	h.SetLogger(zap.New(core))
	c.f.Close() // every write from now on fails (once the buffer flushes)
	const batches = 400
	for i := 0; i < batches; i++ {
		h.Handle([]driver.Packet{{Data: frame(i, 1500)}})
	}
	if c.Err() == nil || c.Lost() == 0 {
		t.Fatalf("capture error %v, lost %d: the write error went unnoticed", c.Err(), c.Lost())
	}
	if c.Frames()+c.Lost() != batches {
		t.Fatalf("written %d + lost %d != %d", c.Frames(), c.Lost(), batches)
	}
	if n := logs.FilterMessageSnippet("capture write failed").Len(); n != 1 {
		t.Fatalf("write error logged %d times, want once", n)
	}
	if err := h.Close(); err == nil {
		t.Fatal("Close did not report the write error")
	}
}
