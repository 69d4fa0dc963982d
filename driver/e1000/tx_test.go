package e1000_test

import (
	"bytes"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
)

// queue builds count frames in pool buffers.
func queue(t testing.TB, n *e1000.NIC, first, count uint32) []driver.TxDesc {
	t.Helper()
	var pkts []driver.TxDesc
	for i := first; i < first+count; i++ {
		b, ok := n.Pool().Get()
		if !ok {
			t.Fatal("pool empty")
		}
		f := frame(i)
		copy(n.Pool().Packet(b, len(f)), f)
		pkts = append(pkts, driver.TxDesc{Buf: b, Len: uint16(len(f))})
	}
	return pkts
}

func txDesc(dev *e1000test.Device, alloc *drivertest.MemAllocator, i int) e1000.TxDesc {
	base := uint64(dev.Reg(e1000.TDBAH(0)))<<32 | uint64(dev.Reg(e1000.TDBAL(0)))
	var d e1000.TxDesc
	d.Decode(alloc.Mem(base+uint64(i)*e1000.DescSize, e1000.DescSize))
	return d
}

func TestTxBurst(t *testing.T) {
	n, dev, alloc := newNIC(t, e1000.Model82540EM, e1000.Options{TxRingSize: 16})
	dev.ClearLog()
	pkts := queue(t, n, 0, 5)
	if got := n.TxBurst(0, pkts); got != 5 {
		t.Fatalf("TxBurst = %d, want 5", got)
	}
	if w := dev.Writes(e1000.TDT(0)); len(w) != 1 || w[0] != 5 {
		t.Fatalf("TDT writes %v, want one write of 5", w)
	}
	for i, p := range pkts {
		d := txDesc(dev, alloc, i)
		// RS only on the last before the doorbell (fewer than TxRSThresh).
		want := e1000.TxDesc{Addr: d.Addr, Length: 60, Cmd: e1000.TXD_CMD_EOP | e1000.TXD_CMD_IFCS}
		if i == len(pkts)-1 {
			want.Cmd |= e1000.TXD_CMD_RS
		}
		if d != want || !bytes.Equal(alloc.Mem(d.Addr, 60), n.Pool().Packet(p.Buf, 60)) {
			t.Errorf("descriptor %d = %+v, want %+v pointing at buffer %d", i, d, want, p.Buf)
		}
	}
	frames := dev.Transmit(0)
	if len(frames) != 5 {
		t.Fatalf("device sent %d frames", len(frames))
	}
	for i, f := range frames {
		if !bytes.Equal(f, frame(uint32(i))) {
			t.Errorf("frame %d = % x", i, f[:20])
		}
	}
	if got := n.Reclaim(0); got != 5 {
		t.Fatalf("ReclaimTx = %d, want 5", got)
	}
	if got := dev.Pending(); got != 0 {
		t.Errorf("interrupt pending with IMS 0: %v", got)
	}
}

func TestTxRingFull(t *testing.T) {
	const N = 8
	n, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{TxRingSize: N})
	pkts := queue(t, n, 0, 10)
	if got := n.TxBurst(0, pkts); got != N-1 {
		t.Fatalf("TxBurst into an empty ring of %d = %d, want %d (TDT must not reach TDH)", N, got, N-1)
	}
	if got := n.TxBurst(0, pkts[N-1:]); got != 0 {
		t.Fatalf("TxBurst into a full ring = %d", got)
	}
	writes := dev.WriteCount(e1000.TDT(0))
	dev.Transmit(2)
	// Only the last descriptor of the burst reports (RS): the two sent
	// come back with it.
	if got := n.Reclaim(0); got != 0 {
		t.Fatalf("ReclaimTx before the RS descriptor was sent = %d", got)
	}
	dev.Transmit(0)
	if got := n.Reclaim(0); got != N-1 {
		t.Fatalf("ReclaimTx = %d, want %d", got, N-1)
	}
	if got := n.TxBurst(0, pkts[N-1:]); got != 3 {
		t.Fatalf("TxBurst after reclaiming = %d, want 3", got)
	}
	if dev.WriteCount(e1000.TDT(0)) != writes+1 {
		t.Fatal("TDT not written exactly once for the batch")
	}
	dev.Transmit(0)
	n.Reclaim(0)
}

// TestReclaimTx: RS is set on every TxRSThresh-th descriptor and the last
// of a burst; ReclaimTx frees by those descriptors' DD, oldest first, and
// exactly the buffers of the frames up to them.
func TestReclaimTx(t *testing.T) {
	n, dev, alloc := newNIC(t, e1000.Model82545EM, e1000.Options{TxRingSize: 64})
	free := n.Pool().Available()
	const total = driver.TxRSThresh + 8
	pkts := queue(t, n, 0, total)
	n.TxBurst(0, pkts)
	for i := range pkts {
		rs := txDesc(dev, alloc, i).Cmd&e1000.TXD_CMD_RS != 0
		if want := i == driver.TxRSThresh-1 || i == total-1; rs != want {
			t.Errorf("descriptor %d: RS %v, want %v", i, rs, want)
		}
	}
	if got := n.Reclaim(0); got != 0 {
		t.Fatalf("ReclaimTx before the NIC sent anything = %d", got)
	}
	dev.Transmit(driver.TxRSThresh + 3)
	if got := n.Reclaim(0); got != driver.TxRSThresh {
		t.Fatalf("ReclaimTx = %d, want the %d up to the first RS", got, driver.TxRSThresh)
	}
	if n.TxInFlight() != 8 || n.Pool().Available() != free-8 {
		t.Fatalf("in flight %d free %d, want 8 and %d", n.TxInFlight(), n.Pool().Available(), free-8)
	}
	// Exactly the first buffers came back: drain the pool and look.
	var drained []uint32
	inPool := map[uint32]bool{}
	for {
		b, ok := n.Pool().Get()
		if !ok {
			break
		}
		drained = append(drained, b)
		inPool[b] = true
	}
	for i, p := range pkts {
		if inPool[p.Buf] != (i < driver.TxRSThresh) {
			t.Errorf("buffer of frame %d in pool = %v, want %v", i, inPool[p.Buf], i < driver.TxRSThresh)
		}
	}
	n.Pool().PutMany(drained)
	dev.Transmit(0)
	if got := n.Reclaim(0); got != 8 || n.Pool().Available() != free {
		t.Fatalf("ReclaimTx = %d, free %d, want 8 and %d", got, n.Pool().Available(), free)
	}
}

// TestTxBurstRefusesBadFrame: a frame no buffer could hold is input, left to
// the caller (driver.NIC), and stops the burst there.
func TestTxBurstRefusesBadFrame(t *testing.T) {
	n, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{})
	for _, p := range []driver.TxDesc{{Buf: 0, Len: 0}, {Buf: 0, Len: e1000.BufSize + 1}, {Buf: 1 << 30, Len: 60}} {
		if k := n.TxBurst(0, []driver.TxDesc{p, {Buf: 1, Len: 60}}); k != 0 {
			t.Errorf("TxBurst(%+v, a good frame) = %d, want 0", p, k)
		}
	}
	if w := dev.WriteCount(e1000.TDT(0)); w != 1 { // the init's
		t.Errorf("TDT written %d times, want only at init", w)
	}
}

func TestBufferPool(t *testing.T) {
	n, _, _ := newNIC(t, e1000.Model82540EM, e1000.Options{RxRingSize: 8, TxRingSize: 8, Buffers: 16})
	var got []uint32
	for {
		b, ok := n.Pool().Get()
		if !ok {
			break
		}
		got = append(got, b)
	}
	if len(got) != 16-7 {
		t.Fatalf("allocated %d buffers, want %d (7 are posted to RX)", len(got), 16-7)
	}
	n.Pool().Put(got[0])
	for _, bad := range []uint32{got[0], 16, ^uint32(0)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("FreeBuf(%d) did not panic", bad)
				}
			}()
			n.Pool().Put(bad)
		}()
	}
	// Buffers can come back from many goroutines at once.
	done := make(chan bool)
	for _, b := range got[1:] {
		go func() { n.Pool().Put(b); done <- true }()
	}
	for range got[1:] {
		<-done
	}
	if n.Pool().Available() != 16-7 {
		t.Fatalf("free = %d after returning all", n.Pool().Available())
	}
}
