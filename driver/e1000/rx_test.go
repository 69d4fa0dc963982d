package e1000_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
)

// frame returns a 60-byte test frame carrying seq.
func frame(seq uint32) []byte {
	f := make([]byte, 60)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	binary.BigEndian.PutUint32(f[14:], seq)
	return f
}

// rxDesc returns the device's view of RX descriptor i.
func rxDesc(dev *e1000test.Device, alloc *drivertest.MemAllocator, i int) []byte {
	base := uint64(dev.Reg(e1000.RDBAH(0)))<<32 | uint64(dev.Reg(e1000.RDBAL(0)))
	return alloc.Mem(base+uint64(i)*e1000.DescSize, e1000.DescSize)
}

func TestRxBurst(t *testing.T) {
	n, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{RxRingSize: 16})
	for i := uint32(0); i < 5; i++ {
		if !dev.Receive(frame(i)) {
			t.Fatalf("device refused frame %d", i)
		}
	}
	out := make([]driver.RxDesc, 3)
	if got := n.RxBurst(0, out); got != 3 {
		t.Fatalf("RxBurst(3) = %d, want 3 (limited by out)", got)
	}
	more := make([]driver.RxDesc, 8)
	if got := n.RxBurst(0, more); got != 2 {
		t.Fatalf("second RxBurst = %d, want the 2 left", got)
	}
	all := append(out, more[:2]...)
	for i, p := range all {
		if p.Len != 60 || p.Status != e1000.RXD_STAT_DD|e1000.RXD_STAT_EOP || p.Errors != 0 {
			t.Errorf("packet %d = %+v", i, p)
		}
		if got := n.Pool().Packet(p.Buf, int(p.Len)); !bytes.Equal(got, frame(uint32(i))) {
			t.Errorf("packet %d bytes = % x", i, got[:20])
		}
		n.Pool().Put(p.Buf)
	}
	if got := n.RxBurst(0, more); got != 0 {
		t.Fatalf("RxBurst on an empty ring = %d", got)
	}
}

func TestRxBurstStopsAtFirstNotDone(t *testing.T) {
	n, dev, alloc := newNIC(t, e1000.Model82540EM, e1000.Options{RxRingSize: 16})
	for i := uint32(0); i < 5; i++ {
		dev.Receive(frame(i))
	}
	// Descriptor 2 is not written back yet (the NIC writes back out of
	// order only in our imagination, but DD is what counts): clear its DD.
	rxDesc(dev, alloc, 2)[12] &^= e1000.RXD_STAT_DD
	out := make([]driver.RxDesc, 16)
	if got := n.RxBurst(0, out); got != 2 {
		t.Fatalf("RxBurst = %d, want 2 (stop at descriptor 2 without DD)", got)
	}
	if n.RxPending() {
		t.Fatal("RxPending with descriptor 2 not done")
	}
	rxDesc(dev, alloc, 2)[12] |= e1000.RXD_STAT_DD
	if !n.RxPending() {
		t.Fatal("RxPending false with descriptor 2 done")
	}
	if got := n.RxBurst(0, out); got != 3 {
		t.Fatalf("RxBurst after DD = %d, want 3", got)
	}
	// Nothing is harvested twice: a refill re-posts the slots with DD
	// clear before the NIC can see them.
	if got := n.RxBurst(0, out); got != 0 {
		t.Fatalf("RxBurst again = %d, want 0", got)
	}
	n.Refill(0)
	for i := 0; i < 3; i++ {
		if d := rxDesc(dev, alloc, i); d[12]&e1000.RXD_STAT_DD != 0 {
			t.Errorf("descriptor %d re-posted with DD set: % x", i, d)
		}
	}
}

func TestRxBadLengthClamped(t *testing.T) {
	n, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{RxRingSize: 8})
	dev.ReceiveWith(frame(1), e1000.RxDesc{Length: 9000, Status: e1000.RXD_STAT_DD | e1000.RXD_STAT_EOP})
	out := make([]driver.RxDesc, 1)
	if n.RxBurst(0, out) != 1 {
		t.Fatal("no packet")
	}
	if out[0].Len != e1000.BufSize || out[0].Errors&e1000.RXD_ERR_RXE == 0 {
		t.Fatalf("packet %+v: want Len clamped to %d and RXE", out[0], e1000.BufSize)
	}
	if len(n.Pool().Packet(out[0].Buf, int(out[0].Len))) != e1000.BufSize || len(n.Pool().Packet(out[0].Buf, 1<<20)) != e1000.BufSize {
		t.Fatal("Packet does not clamp")
	}
}

func TestRefillRx(t *testing.T) {
	const N = 16
	n, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{RxRingSize: N})
	if got := n.Refill(0); got != 0 {
		t.Fatalf("RefillRx on a full ring = %d", got)
	}
	dev.ClearLog()
	for i := uint32(0); i < 10; i++ {
		dev.Receive(frame(i))
	}
	out := make([]driver.RxDesc, N)
	k := n.RxBurst(0, out)
	if k != 10 || dev.WriteCount(e1000.RDT(0)) != 0 {
		t.Fatalf("RxBurst = %d, RDT writes %d (RxBurst must not write RDT)", k, dev.WriteCount(e1000.RDT(0)))
	}
	if got := n.Refill(0); got != 10 {
		t.Fatalf("RefillRx = %d, want 10", got)
	}
	if w := dev.Writes(e1000.RDT(0)); len(w) != 1 || w[0] != (N-1+10)%N {
		t.Fatalf("RDT writes %v, want one write of %d", w, (N-1+10)%N)
	}
	for _, p := range out[:k] {
		n.Pool().Put(p.Buf)
	}
}

func TestRefillRxPoolExhausted(t *testing.T) {
	const N = 8
	n, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{RxRingSize: N, Buffers: N})
	// One buffer is left in the pool (N-1 posted); the consumer keeps what
	// it receives, so the pool runs dry and the ring empties.
	var held []uint32
	out := make([]driver.RxDesc, N)
	for round := 0; round < 3; round++ {
		for dev.Receive(frame(0)) {
		}
		k := n.RxBurst(0, out)
		for _, p := range out[:k] {
			held = append(held, p.Buf)
		}
		n.Refill(0)
	}
	if len(held) != N || n.Pool().Available() != 0 {
		t.Fatalf("held %d, free %d, want all %d held", len(held), n.Pool().Available(), N)
	}
	if got := n.Refill(0); got != 0 {
		t.Fatalf("RefillRx with an empty pool = %d", got)
	}
	if st := n.HWStats(); st.RNBC == 0 {
		t.Error("device never ran out of descriptors")
	}
	n.Pool().PutMany(held)
	if got := n.Refill(0); got != N-1 {
		t.Fatalf("RefillRx after freeing = %d, want %d", got, N-1)
	}
}

// TestRxInvariantProperty runs random receive/harvest/free/refill sequences
// and checks, at every RDT write (in the fake), that RDT never lands on RDH,
// that every frame is harvested exactly once and in order, and that no
// buffer is lost.
func TestRxInvariantProperty(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		ringSize := 8 << (seed % 4)
		bufs := ringSize + int(seed%3)*ringSize/2
		n, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{RxRingSize: ringSize, Buffers: bufs})
		dev.SetLogging(false)
		rng := rand.New(rand.NewPCG(seed, 0xe1000))
		var sent, got uint32
		var held []uint32
		out := make([]driver.RxDesc, ringSize)
		for step := 0; step < 2000; step++ {
			switch rng.IntN(4) {
			case 0:
				for i := rng.IntN(ringSize + 2); i > 0; i-- {
					if dev.Receive(frame(sent)) {
						sent++
					}
				}
			case 1:
				k := n.RxBurst(0, out[:1+rng.IntN(ringSize)])
				for _, p := range out[:k] {
					if seq := binary.BigEndian.Uint32(n.Pool().Packet(p.Buf, int(p.Len))[14:]); seq != got {
						t.Fatalf("seed %d step %d: got frame %d, want %d", seed, step, seq, got)
					}
					got++
					held = append(held, p.Buf)
				}
			case 2:
				rng.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
				k := rng.IntN(len(held) + 1)
				n.Pool().PutMany(held[:k])
				held = append(held[:0], held[k:]...)
			case 3:
				n.Refill(0)
			}
			if v := dev.Violations(); len(v) > 0 {
				t.Fatalf("seed %d step %d: %v", seed, step, v)
			}
			rdh, rdt := dev.Reg(e1000.RDH(0)), dev.Reg(e1000.RDT(0))
			posted := (int(rdt)-int(rdh)+ringSize)%ringSize + n.RxWaiting()
			if n.Pool().Available()+len(held)+posted+int(sent-got) != bufs {
				t.Fatalf("seed %d step %d: free %d + held %d + posted %d + unharvested %d != %d buffers",
					seed, step, n.Pool().Available(), len(held), posted, sent-got, bufs)
			}
		}
		if sent == 0 || got == 0 {
			t.Fatalf("seed %d: nothing flowed (sent %d, got %d)", seed, sent, got)
		}
		n.Pool().PutMany(held)
	}
}

// FuzzRxDesc feeds arbitrary write-back bytes (everything the NIC writes
// after the address) through RxBurst: the result must stay inside the buffer.
func FuzzRxDesc(f *testing.F) {
	f.Add([]byte{60, 0, 0, 0, 0x03, 0, 0, 0})
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0x01, 0x08, 0, 0, 0x01, 0x80, 0x64, 0})
	f.Add([]byte{0, 0, 0, 0, 0xFE, 0, 0, 0})
	n, dev, alloc := newNIC(f, e1000.Model82540EM, e1000.Options{RxRingSize: 8})
	dev.SetLogging(false)
	out := make([]driver.RxDesc, 8)
	f.Fuzz(func(t *testing.T, wb []byte) {
		if len(wb) < 8 {
			return
		}
		head := int(dev.Reg(e1000.RDH(0)))
		if !dev.Receive(frame(7)) {
			t.Fatal("no RX descriptor free")
		}
		d := rxDesc(dev, alloc, head)
		copy(d[8:], wb[:8])
		k := n.RxBurst(0, out)
		if wb[4]&e1000.RXD_STAT_DD == 0 {
			if k != 0 {
				t.Fatalf("harvested a descriptor without DD: %+v", out[0])
			}
			d[12] |= e1000.RXD_STAT_DD // let the ring move on
			k = n.RxBurst(0, out)
		}
		if k != 1 {
			t.Fatalf("RxBurst = %d, want 1", k)
		}
		p := out[0]
		if p.Len > e1000.BufSize || int(p.Buf) >= n.Pool().Len() {
			t.Fatalf("packet %+v outside its buffer", p)
		}
		if binary.LittleEndian.Uint16(wb) > e1000.BufSize && p.Errors&e1000.RXD_ERR_RXE == 0 {
			t.Fatalf("oversized length %d not flagged", binary.LittleEndian.Uint16(wb))
		}
		_ = n.Pool().Packet(p.Buf, int(p.Len))[p.Len:] // must not panic
		n.Pool().Put(p.Buf)
		n.Refill(0)
		if p.Status&e1000.RXD_STAT_EOP == 0 {
			// A frame cut over descriptors: its end (EOP) is freed by
			// RxBurst, never returned.
			if !dev.Receive(frame(8)) {
				t.Fatal("no RX descriptor free")
			}
			if k := n.RxBurst(0, out); k != 0 {
				t.Fatalf("the end of a cut frame was returned: %+v", out[0])
			}
			n.Refill(0)
		}
	})
}
