package drivertest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/driver"
)

func TestLoopRefusesBadOptions(t *testing.T) {
	for _, o := range []LoopOptions{
		{RingSize: 3},
		{RingSize: 1<<16 + 1},
		{Buffers: -1},
		{IRQBurst: 32},            // bursts need the vector
		{IRQ: true, IRQBurst: -1}, // negative
		{Frames: [][]byte{{}}},
		{Frames: [][]byte{make([]byte, driver.BufSize+1)}},
		{Frames: [][]byte{}},
	} {
		if l, err := NewLoop(o); !errors.Is(err, driver.ErrBadConfig) {
			if l != nil {
				l.Close()
			}
			t.Errorf("NewLoop(%+v): err %v, want ErrBadConfig", o, err)
		}
	}
}

// TestLoopCycle takes frames through the Loop as the core does: each comes
// out of RxBurst intact, TX takes it, Reclaim gives the buffer back, and the
// pool ends full.
func TestLoopCycle(t *testing.T) {
	var seen []uint64
	l, err := NewLoop(LoopOptions{RingSize: 16, Buffers: 40, TxHook: func(seq uint64, f []byte) { seen = append(seen, seq) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nic, bufs := l.Queues()
	want := LoopFrames(64, LoopMAC, LoopPeer)
	if got := nic.Refill(0); got != 15 {
		t.Fatalf("Refill posted %d buffers into a 16-slot ring, want 15", got)
	}
	var rx [8]driver.RxDesc
	var sent uint64
	for round := 0; round < 20; round++ {
		n := nic.RxBurst(0, rx[:])
		if n != len(rx) {
			t.Fatalf("round %d: RxBurst gave %d frames, want %d (a saturated wire)", round, n, len(rx))
		}
		tx := make([]driver.TxDesc, n)
		for i, d := range rx[:n] {
			w := want[(sent+uint64(i))%uint64(len(want))]
			if got := bufs.Packet(d.Buf, int(d.Len)); !bytes.Equal(got, w) {
				t.Fatalf("round %d frame %d: % x, want % x", round, i, got, w)
			}
			tx[i] = driver.TxDesc{Buf: d.Buf, Len: d.Len}
		}
		if k := nic.TxBurst(0, tx); k != n {
			t.Fatalf("round %d: TxBurst took %d of %d", round, k, n)
		}
		sent += uint64(n)
		if k := nic.Reclaim(0); k != n {
			t.Fatalf("round %d: Reclaim returned %d, want %d", round, k, n)
		}
		nic.Refill(0)
	}
	if l.Transmitted() != sent || l.Received() != sent || uint64(len(seen)) != sent || seen[len(seen)-1] != sent-1 {
		t.Fatalf("transmitted %d, received %d, hook saw %d (last %v), want %d", l.Transmitted(), l.Received(), len(seen), seen[len(seen)-1], sent)
	}
	// Harvest what is posted and free it: every buffer is back.
	for {
		n := nic.RxBurst(0, rx[:])
		if n == 0 {
			break
		}
		for _, d := range rx[:n] {
			bufs.PutMany([]uint32{d.Buf})
		}
	}
	if bufs.Available() != 40 {
		t.Fatalf("%d of 40 buffers in the pool at the end", bufs.Available())
	}
	select {
	case <-l.Await(sent):
	default:
		t.Fatal("Await of frames already transmitted did not return at once")
	}
}

// TestLoopTxRingFull: TxBurst stops at a full ring, and at a frame no buffer
// holds.
func TestLoopTxRingFull(t *testing.T) {
	l, err := NewLoop(LoopOptions{RingSize: 8, Buffers: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tx := make([]driver.TxDesc, 10)
	for i := range tx {
		b, _ := l.pool.Get()
		tx[i] = driver.TxDesc{Buf: b, Len: 60}
	}
	if k := l.TxBurst(0, tx); k != 7 {
		t.Fatalf("TxBurst took %d into an 8-slot ring, want 7", k)
	}
	l.Reclaim(0)
	tx[8].Len = driver.BufSize + 1
	if k := l.TxBurst(0, tx[7:]); k != 1 {
		t.Fatalf("TxBurst took %d, want 1 (the next frame is too long)", k)
	}
}

// readEvent reports whether the eventfd had an event (and consumes it).
func readEvent(t *testing.T, fd int) bool {
	t.Helper()
	var b [8]byte
	_, err := unix.Read(fd, b[:])
	if err == unix.EAGAIN {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// TestLoopIRQ: frames raise the vector only while RX is enabled, once per
// acknowledgement; frames that arrive masked are latched and raise it on
// unmask.
func TestLoopIRQ(t *testing.T) {
	l, err := NewLoop(LoopOptions{RingSize: 16, IRQ: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd := l.Info().Vectors[0].Fd
	var rx [4]driver.RxDesc
	l.Refill(0)
	if readEvent(t, fd) {
		t.Fatal("an event while RX was never enabled")
	}
	l.SetIRQ(0, driver.CauseRX, true)
	if !readEvent(t, fd) {
		t.Fatal("no event when RX was enabled with frames latched")
	}
	l.RxBurst(0, rx[:])
	l.Refill(0)
	if readEvent(t, fd) {
		t.Fatal("a second event before the first was acknowledged")
	}
	l.AckIRQ(0)
	l.RxBurst(0, rx[:])
	l.SetIRQ(0, driver.CauseRX, false)
	l.Refill(0)
	if readEvent(t, fd) {
		t.Fatal("an event while RX was masked")
	}
	l.SetIRQ(0, driver.CauseRX, true)
	if !readEvent(t, fd) {
		t.Fatal("no event on unmask with frames latched")
	}
}

// TestLoopIRQBurst: with IRQBurst, frames arrive a burst at a time, the next
// one when RX is enabled again after the last was harvested (not before).
func TestLoopIRQBurst(t *testing.T) {
	l, err := NewLoop(LoopOptions{RingSize: 64, IRQ: true, IRQBurst: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd := l.Info().Vectors[0].Fd
	var rx [16]driver.RxDesc
	l.Refill(0)
	if n := l.RxBurst(0, rx[:]); n != 0 {
		t.Fatalf("%d frames before RX was enabled", n)
	}
	for round := 0; round < 3; round++ {
		l.SetIRQ(0, driver.CauseRX, true)
		if !readEvent(t, fd) {
			t.Fatalf("round %d: no event for the burst", round)
		}
		l.AckIRQ(0)
		// Enabled again before the burst was harvested: no new burst.
		l.SetIRQ(0, driver.CauseRX, false)
		l.SetIRQ(0, driver.CauseRX, true)
		l.AckIRQ(0)
		l.SetIRQ(0, driver.CauseRX, false)
		if n := l.RxBurst(0, rx[:]); n != 5 {
			t.Fatalf("round %d: %d frames, want a burst of 5", round, n)
		}
		if n := l.RxBurst(0, rx[:]); n != 0 {
			t.Fatalf("round %d: %d more frames before RX was enabled again", round, n)
		}
	}
}
