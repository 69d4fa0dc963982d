package e1000_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
)

// TestSegmentedPool: a buffer pool in DMA memory whose segments are at
// descending device addresses (UIO hugepages in a fresh guest) works: every
// buffer's device address reaches the bytes the CPU wrote (TX), and frames
// the device writes land where the CPU reads them (RX).
func TestSegmentedPool(t *testing.T) {
	alloc := drivertest.NewMemAllocator()
	alloc.SegmentSize = 64 << 10 // 32 buffers per segment
	dev := e1000test.New(e1000.Model82540EM, alloc)
	const nbufs = 1024
	n, err := e1000.New(dev, alloc, newPool(t, alloc, e1000.Options{Buffers: nbufs}), e1000.Model82540EM, e1000.Options{RxRingSize: 64, TxRingSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	dev.SetLogging(false)

	// TX from every buffer the pool holds.
	var bufs []uint32
	for {
		b, ok := n.Pool().Get()
		if !ok {
			break
		}
		f := n.Pool().Packet(b, 100)
		copy(f, frame(b))
		binary.BigEndian.PutUint32(f[96:], b)
		bufs = append(bufs, b)
	}
	if len(bufs) != nbufs-63 { // 63 posted to the RX ring
		t.Fatalf("allocated %d buffers, want %d", len(bufs), nbufs-63)
	}
	sent := 0
	for len(bufs) > 0 {
		k := min(len(bufs), 200)
		pk := make([]driver.TxDesc, k)
		for i, b := range bufs[:k] {
			pk[i] = driver.TxDesc{Buf: b, Len: 100}
		}
		if got := n.TxBurst(0, pk); got != k {
			t.Fatalf("TxBurst took %d of %d", got, k)
		}
		for _, f := range dev.Transmit(0) {
			b := binary.BigEndian.Uint32(f[96:])
			want := append(frame(b), make([]byte, 40)...)
			binary.BigEndian.PutUint32(want[96:], b)
			if !bytes.Equal(f, want) {
				t.Fatalf("frame from buffer %d differs: % x", b, f[:20])
			}
			sent++
		}
		n.Reclaim(0)
		bufs = bufs[k:]
	}
	if sent != nbufs-63 {
		t.Fatalf("sent %d frames, want %d", sent, nbufs-63)
	}
	if v := dev.Violations(); len(v) > 0 {
		t.Fatal(v)
	}
	// RX through the ring several times over.
	out := make([]driver.RxDesc, 64)
	for i := uint32(0); i < 2000; i++ {
		if !dev.Receive(frame(i)) {
			t.Fatalf("device refused frame %d: %v", i, dev.Violations())
		}
		if k := n.RxBurst(0, out); k != 1 || !bytes.Equal(n.Pool().Packet(out[0].Buf, int(out[0].Len)), frame(i)) {
			t.Fatalf("frame %d: RxBurst %d, bytes differ", i, k)
		}
		n.Pool().Put(out[0].Buf)
		n.Refill(0)
	}
}

// TestRingMustBeContiguous: a descriptor ring larger than the allocator's
// segments is refused (the NIC reads it from one base address).
func TestRingMustBeContiguous(t *testing.T) {
	alloc := drivertest.NewMemAllocator()
	alloc.SegmentSize = 4096
	dev := e1000test.New(e1000.Model82540EM, alloc)
	pool := mustPool(alloc)
	if n, err := e1000.New(dev, alloc, pool, e1000.Model82540EM, e1000.Options{RxRingSize: 512}); err == nil {
		n.Close()
		t.Fatal("New accepted an 8 KiB ring in 4 KiB segments")
	}
	pool.Close()
	if alloc.Open() != 0 {
		t.Fatalf("%d regions left open", alloc.Open())
	}
}
