package e1000_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

// The MMIO diet: every register access is a trap into QEMU or an
// uncached PCIe round trip, so these tests count them with mmio.Counting
// around the fake register file, operation by operation.

// countingNIC is an initialised NIC whose register accesses are counted.
func countingNIC(t *testing.T, m e1000.Model, opts e1000.Options) (*e1000.NIC, *mmio.Counting, *e1000test.Device, *drivertest.MemAllocator) {
	t.Helper()
	dev, alloc := newFake(t, m)
	if opts.MSIX {
		dev.SetMSIX(true)
	}
	regs := mmio.NewCounting(dev)
	n, err := e1000.New(regs, alloc, newPool(t, alloc, opts), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		for _, v := range dev.Violations() {
			t.Errorf("device saw: %s", v)
		}
	})
	return n, regs, dev, alloc
}

// accesses runs fn and returns the register accesses it made.
func accesses(c *mmio.Counting, fn func()) mmio.Accesses {
	a := c.Snapshot()
	fn()
	return c.Snapshot().Sub(a)
}

// TestRefillWritesRDTPerThreshold: harvesting and refilling frames one by
// one writes RDT once per RxFreeThresh buffers, not once per refill, and the
// NIC never misses a frame meanwhile.
func TestRefillWritesRDTPerThreshold(t *testing.T) {
	n, regs, dev, _ := countingNIC(t, e1000.Model82540EM, e1000.Options{RxRingSize: 256})
	out := make([]driver.RxDesc, 4)
	var got mmio.Accesses
	for i := 0; i < 4*driver.RxFreeThresh; i++ {
		if !dev.Receive(frame(uint32(i))) {
			t.Fatalf("frame %d found no descriptor", i)
		}
		got = got.Add(accesses(regs, func() {
			k := n.RxBurst(0, out)
			if k != 1 {
				t.Fatalf("frame %d: RxBurst = %d", i, k)
			}
			n.Pool().Put(out[0].Buf)
			n.Refill(0)
		}))
	}
	if want := (mmio.Accesses{Writes: 4}); got != want {
		t.Fatalf("128 frames harvested and refilled one at a time: %+v register accesses, want %+v (one RDT write per %d)",
			got, want, driver.RxFreeThresh)
	}
	if w := dev.Writes(e1000.RDT(0)); len(w) < 4 || w[len(w)-1] != uint32(n.RxRingSize()-1+4*driver.RxFreeThresh)%uint32(n.RxRingSize()) {
		t.Fatalf("RDT writes %v", w)
	}
}

// TestRefillWritesRDTAtOnceWhenNearlyOut: with the pool empty the NIC's
// ring drains; once the descriptors it can see are RxFreeThresh or fewer, a
// refill of even one buffer is handed over at once, and FlushRx hands over
// what waits.
func TestRefillWritesRDTAtOnceWhenNearlyOut(t *testing.T) {
	const ring = 64 // RxFreeThresh is a quarter of it: 16
	n, regs, dev, _ := countingNIC(t, e1000.Model82540EM, e1000.Options{RxRingSize: ring, Buffers: ring})
	// 63 posted, 1 in the pool.
	out := make([]driver.RxDesc, ring)
	recv := func(k int) []uint32 {
		var held []uint32
		for i := 0; i < k; i++ {
			if !dev.Receive(frame(uint32(i))) {
				t.Fatalf("frame %d found no descriptor", i)
			}
		}
		for _, p := range out[:n.RxBurst(0, out[:k])] {
			held = append(held, p.Buf)
		}
		return held
	}
	held := recv(10) // the NIC still sees 53
	if a := accesses(regs, func() { n.Refill(0) }); a.Total() != 0 {
		t.Fatalf("refill of 1 with 53 descriptors left: %+v accesses, want none", a)
	}
	held = append(held, recv(40)...) // the NIC sees 13
	if a := accesses(regs, func() { n.Pool().Put(held[0]); n.Refill(0) }); a != (mmio.Accesses{Writes: 1}) {
		t.Fatalf("refill of 1 with 13 descriptors left: %+v accesses, want one RDT write", a)
	}
	if n.RxWaiting() != 0 {
		t.Fatalf("%d buffers wait after a write", n.RxWaiting())
	}
	// Starved: everything received; refilling hands over at once.
	held = append(held[1:], recv(13)...)
	if a := accesses(regs, func() { n.Pool().PutMany(held[:2]); n.Refill(0) }); a != (mmio.Accesses{Writes: 1}) {
		t.Fatalf("refill of a starved ring: %+v accesses, want one RDT write", a)
	}
	if !dev.Receive(frame(99)) || !dev.Receive(frame(100)) {
		t.Fatal("the NIC did not see the refilled buffers")
	}
	n.Pool().PutMany(held[2:])
	if a := accesses(regs, func() { n.Pool().PutMany(held[2:2]); n.FlushRx(); n.FlushRx() }); a.Total() > 1 {
		t.Fatalf("FlushRx twice: %+v accesses, want at most one write", a)
	}
}

// TestTxBatchDoorbell: with SetTxBatch(32) frames queued one at a time ring
// the doorbell once per 32, FlushTx rings it for the rest (RS on the last),
// and ReclaimTx reads no register.
func TestTxBatchDoorbell(t *testing.T) {
	n, regs, dev, alloc := countingNIC(t, e1000.Model82540EM, e1000.Options{TxRingSize: 256})
	n.SetTxBatch(32)
	pkts := queue(t, n, 0, 40)
	a := accesses(regs, func() {
		for i := range pkts {
			if n.TxBurst(0, pkts[i:i+1]) != 1 {
				t.Fatal("TxBurst refused a frame")
			}
		}
	})
	if a != (mmio.Accesses{Writes: 1}) || dev.Reg(e1000.TDT(0)) != 32 {
		t.Fatalf("40 frames queued one at a time: %+v accesses, TDT %d; want one write of 32", a, dev.Reg(e1000.TDT(0)))
	}
	if n.TxWaiting() != 8 {
		t.Fatalf("%d frames wait for the doorbell, want 8", n.TxWaiting())
	}
	if a := accesses(regs, func() { n.FlushTx(0); n.FlushTx(0) }); a != (mmio.Accesses{Writes: 1}) || dev.Reg(e1000.TDT(0)) != 40 {
		t.Fatalf("FlushTx twice: %+v accesses, TDT %d; want one write of 40", a, dev.Reg(e1000.TDT(0)))
	}
	for i := range pkts {
		rs := txDesc(dev, alloc, i).Cmd&e1000.TXD_CMD_RS != 0
		if want := i == 31 || i == 39; rs != want {
			t.Errorf("descriptor %d: RS %v, want %v", i, rs, want)
		}
	}
	dev.Transmit(0)
	var got int
	if a := accesses(regs, func() { got = n.Reclaim(0) }); a.Total() != 0 || got != 40 {
		t.Fatalf("ReclaimTx: %d buffers with %+v register accesses, want 40 with none", got, a)
	}
}

// TestTxIRQsOff: enabling every cause through the core's interface unmasks
// no TX-completion cause (INTx: TXDW; MSI-X: TXQ0), so transmitted frames
// raise no interrupt; masking TX alone writes nothing.
func TestTxIRQsOff(t *testing.T) {
	for _, msix := range []bool{false, true} {
		m := map[bool]e1000.Model{false: e1000.Model82540EM, true: e1000.Model82574L}[msix]
		n, regs, dev, _ := countingNIC(t, m, e1000.Options{MSIX: msix})
		d := n
		d.SetIRQ(0, driver.CauseRX|driver.CauseTX|driver.CauseLink, true)
		if ims := e1000.Cause(dev.Reg(intel.IMS)); ims&(e1000.ICR_TXDW|e1000.ICR_TXQ0) != 0 || ims&n.Causes().RX == 0 {
			t.Errorf("msix %v: IMS %v after enabling RX|TX|link: want RX on, TX completions off", msix, ims)
		}
		if a := accesses(regs, func() { d.SetIRQ(0, driver.CauseTX, true); d.SetIRQ(0, driver.CauseTX, false) }); a.Total() != 0 {
			t.Errorf("msix %v: enabling and masking TX: %+v accesses, want none", msix, a)
		}
		b, _ := n.Pool().Get()
		copy(n.Pool().Packet(b, 60), frame(1))
		n.TxBurst(0, []driver.TxDesc{{Buf: b, Len: 60}})
		dev.Transmit(0)
		if p := dev.Pending(); p != 0 {
			t.Errorf("msix %v: a transmitted frame left interrupt %v pending", msix, p)
		}
	}
}

// TestNAPIMaskMSIX: on an MSI-X RX vector the NIC auto-masks RXQ0 as it
// fires. A NAPI cycle (AckIRQ, mask RX, the vector's Unmask, poll, unmask
// RX) then costs one register write; the copy top half (AckIRQ, Unmask)
// one as well.
func TestNAPIMaskMSIX(t *testing.T) {
	n, regs, dev, _ := countingNIC(t, e1000.Model82574L, e1000.Options{MSIX: true})
	vecs := []driver.Vector{{Name: "rx"}, {Name: "tx"}, {Name: "other"}}
	d := n
	e1000.SetVectors(n, vecs)
	d.SetIRQ(0, driver.CauseRX|driver.CauseLink, true)
	unmask := vecs[e1000.VecRX].Unmask
	if unmask == nil {
		t.Fatal("the MSI-X RX vector has no Unmask to re-arm RXQ0")
	}
	fire := func() {
		// What QEMU's e1000e does as it sends the RX vector's message.
		dev.SetReg(intel.IMS, dev.Reg(intel.IMS)&^uint32(e1000.ICR_RXQ0))
	}
	fire()
	napi := accesses(regs, func() {
		if c := d.AckIRQ(e1000.VecRX); c != driver.CauseRX {
			t.Fatalf("AckIRQ = %v", c)
		}
		d.SetIRQ(0, driver.CauseRX, false) // napi_schedule
		unmask()                           // the top half is done
		if e1000.Cause(dev.Reg(intel.IMS))&e1000.ICR_RXQ0 != 0 {
			t.Fatal("RXQ0 armed while NAPI polls")
		}
		d.SetIRQ(0, driver.CauseRX, true) // napi_complete
	})
	if napi != (mmio.Accesses{Writes: 1}) || e1000.Cause(dev.Reg(intel.IMS))&e1000.ICR_RXQ0 == 0 {
		t.Fatalf("NAPI cycle: %+v accesses, IMS %v; want one write and RXQ0 armed", napi, e1000.Cause(dev.Reg(intel.IMS)))
	}
	fire()
	cp := accesses(regs, func() {
		d.AckIRQ(e1000.VecRX)
		unmask()
	})
	if cp != (mmio.Accesses{Writes: 1}) || e1000.Cause(dev.Reg(intel.IMS))&e1000.ICR_RXQ0 == 0 {
		t.Fatalf("copy top half: %+v accesses, IMS %v; want one write and RXQ0 armed", cp, e1000.Cause(dev.Reg(intel.IMS)))
	}
	// Masking RX while it is armed is a real IMC write.
	if a := accesses(regs, func() { d.SetIRQ(0, driver.CauseRX, false) }); a != (mmio.Accesses{Writes: 1}) || e1000.Cause(dev.Reg(intel.IMS))&e1000.ICR_RXQ0 != 0 {
		t.Fatalf("mask an armed RX: %+v accesses", a)
	}
}
