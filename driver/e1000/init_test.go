package e1000_test

import (
	"cmp"
	"errors"
	"net"
	"testing"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

var allModels = []e1000.Model{e1000.Model82540EM, e1000.Model82545EM, e1000.Model82544GC, e1000.Model82574L}

func newFake(t testing.TB, m e1000.Model) (*e1000test.Device, *drivertest.MemAllocator) {
	t.Helper()
	alloc := drivertest.NewMemAllocator()
	return e1000test.New(m, alloc), alloc
}

// newNIC returns an initialised NIC on a fake device; Close and the
// invariant check run at cleanup.
func newNIC(t testing.TB, m e1000.Model, opts e1000.Options) (*e1000.NIC, *e1000test.Device, *drivertest.MemAllocator) {
	t.Helper()
	dev, alloc := newFake(t, m)
	if opts.MSIX {
		dev.SetMSIX(true)
	}
	pool := newPool(t, alloc, opts)
	n, err := e1000.New(dev, alloc, pool, m, opts)
	if err != nil {
		t.Fatalf("New(%v): %v", m, err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		pool.Close()
		for _, v := range dev.Violations() {
			t.Errorf("device saw: %s", v)
		}
	})
	return n, dev, alloc
}

// newPool makes the buffer pool Open would make for opts.
func newPool(t testing.TB, alloc dma.Allocator, opts e1000.Options) *driver.BufPool {
	t.Helper()
	n := opts.Buffers
	if n == 0 {
		rx, tx := cmp.Or(opts.RxRingSize, e1000.DefaultRingSize), cmp.Or(opts.TxRingSize, e1000.DefaultRingSize)
		n = 2*rx + tx
	}
	pool, err := driver.NewBufPool(alloc, n)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// index of the first logged write to reg with a value matching pred, or -1.
func firstWrite(log []e1000test.Write, reg e1000.Reg, pred func(uint32) bool) int {
	for i, w := range log {
		if w.Reg == reg && pred(w.Val) {
			return i
		}
	}
	return -1
}

func TestInitSequence(t *testing.T) {
	for _, m := range allModels {
		t.Run(m.String(), func(t *testing.T) {
			const rxN, txN = 64, 32
			n, dev, alloc := newNIC(t, m, e1000.Options{RxRingSize: rxN, TxRingSize: txN, ITR: 1000})
			log := dev.Log()

			// Interrupts masked before the reset, reset happened, masked after.
			imc := firstWrite(log, intel.IMC, func(v uint32) bool { return v == 0xFFFFFFFF })
			rst := firstWrite(log, intel.CTRL, func(v uint32) bool { return v&intel.CTRL_RST != 0 })
			if imc < 0 || rst < 0 || imc > rst {
				t.Errorf("IMC=all-ones at %d, CTRL.RST at %d: want both, IMC first", imc, rst)
			}
			if dev.Resets() != 2 {
				t.Errorf("resets = %d, want power-up + 1", dev.Resets())
			}
			if got := dev.Reg(intel.IMS); got != 0 {
				t.Errorf("IMS after New = %#x, want 0 (interrupts left to the caller)", got)
			}

			// RX ring (SDM 14.4).
			rdba := uint64(dev.Reg(e1000.RDBAH(0)))<<32 | uint64(dev.Reg(e1000.RDBAL(0)))
			if rdba < drivertest.BaseAddr || rdba%16 != 0 || dev.Reg(e1000.RDBAH(0)) == 0 {
				t.Errorf("RDBA = %#x, want a 16-byte aligned fake address above 4 GiB", rdba)
			}
			if got := dev.Reg(e1000.RDLEN(0)); got != rxN*16 {
				t.Errorf("RDLEN = %d, want %d", got, rxN*16)
			}
			if h, tl := dev.Reg(e1000.RDH(0)), dev.Reg(e1000.RDT(0)); h != 0 || tl != rxN-1 {
				t.Errorf("RDH, RDT = %d, %d, want 0, %d", h, tl, rxN-1)
			}
			wantRCTL := intel.RCTL_EN | intel.RCTL_BAM | intel.RCTL_SECRC | e1000.RCTL_BSIZE_2048
			if got := dev.Reg(intel.RCTL); got != wantRCTL {
				t.Errorf("RCTL = %#08x, want %#08x", got, wantRCTL)
			}
			// RCTL is written with EN once, after the ring and RDT: QEMU's
			// e1000 ignores RX for 1 s after each RCTL write.
			en := 0
			for _, v := range dev.Writes(intel.RCTL) {
				if v&intel.RCTL_EN != 0 {
					en++
				}
			}
			lastRDT := -1
			for i, w := range log {
				if w.Reg == e1000.RDT(0) {
					lastRDT = i
				}
			}
			if rctl := firstWrite(log, intel.RCTL, func(v uint32) bool { return v&intel.RCTL_EN != 0 }); en != 1 || rctl < lastRDT {
				t.Errorf("RCTL.EN written %d times (want 1), at %d, last RDT write at %d (want RCTL last)", en, rctl, lastRDT)
			}
			// Every RX descriptor but one holds a distinct buffer.
			seen := map[uint64]bool{}
			for i := 0; i < rxN; i++ {
				var d e1000.RxDesc
				d.Decode(alloc.Mem(rdba+uint64(i)*16, 16))
				if i == rxN-1 {
					if d.Addr != 0 {
						t.Errorf("descriptor %d (the tail) holds a buffer", i)
					}
					continue
				}
				if d.Addr == 0 || d.Status != 0 || seen[d.Addr] || alloc.Mem(d.Addr, e1000.BufSize) == nil {
					t.Errorf("descriptor %d = %+v: want a distinct mapped buffer and status 0", i, d)
				}
				seen[d.Addr] = true
			}
			for i := 0; i < e1000.MTANum; i++ {
				if dev.WriteCount(intel.MTA(i)) == 0 || dev.Reg(intel.MTA(i)) != 0 {
					t.Fatalf("MTA[%d] not cleared", i)
				}
			}

			// TX ring (SDM 14.5).
			if got := dev.Reg(e1000.TDLEN(0)); got != txN*16 {
				t.Errorf("TDLEN = %d, want %d", got, txN*16)
			}
			if dev.Reg(e1000.TDBAL(0)) == 0 || dev.Reg(e1000.TDH(0)) != 0 || dev.Reg(e1000.TDT(0)) != 0 {
				t.Errorf("TDBAL/TDH/TDT = %#x/%d/%d", dev.Reg(e1000.TDBAL(0)), dev.Reg(e1000.TDH(0)), dev.Reg(e1000.TDT(0)))
			}
			tctl := dev.Reg(intel.TCTL)
			if tctl&(intel.TCTL_EN|intel.TCTL_PSP) != intel.TCTL_EN|intel.TCTL_PSP || tctl>>e1000.TCTL_CT_SHIFT&0xFF != 0x0F {
				t.Errorf("TCTL = %#08x, want EN|PSP, CT=0x0F", tctl)
			}
			cold := tctl >> e1000.TCTL_COLD_SHIFT & 0x3FF
			tipg := dev.Reg(e1000.TIPG)
			if m == e1000.Model82574L {
				if cold != 0x3F || tipg != 0x00602008 || dev.Reg(e1000.TARC(0))&e1000.TARC_ENABLE == 0 {
					t.Errorf("82574: COLD %#x TIPG %#x TARC0 %#x", cold, tipg, dev.Reg(e1000.TARC(0)))
				}
			} else if cold != 0x40 || tipg != 0x0060200A {
				t.Errorf("COLD %#x TIPG %#08x, want 0x40 0x0060200a", cold, tipg)
			}

			// Link, MAC, throttling.
			if dev.Reg(intel.CTRL)&intel.CTRL_SLU == 0 {
				t.Error("CTRL.SLU not set")
			}
			if n.MAC().String() != e1000test.DefaultMAC.String() || dev.Reg(intel.RAH(0))&e1000.RAH_AV == 0 {
				t.Errorf("MAC %v RAH %#x", n.MAC(), dev.Reg(intel.RAH(0)))
			}
			wantITR := uint32(1000)
			if m == e1000.Model82544GC {
				wantITR = 0
			}
			if got := dev.Reg(e1000.ITR); got != wantITR {
				t.Errorf("ITR = %d, want %d", got, wantITR)
			}
			if n.RxRingSize() != rxN || n.TxRingSize() != txN || n.Pool().Len() != 2*rxN+txN || n.Pool().Available() != 2*rxN+txN-(rxN-1) {
				t.Errorf("sizes: rx %d tx %d bufs %d free %d", n.RxRingSize(), n.TxRingSize(), n.Pool().Len(), n.Pool().Available())
			}
		})
	}
}

func TestInitPromisc(t *testing.T) {
	_, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{Promisc: true})
	if got := dev.Reg(intel.RCTL); got&(intel.RCTL_UPE|intel.RCTL_MPE) != intel.RCTL_UPE|intel.RCTL_MPE {
		t.Fatalf("RCTL = %#x, want UPE|MPE", got)
	}
}

func TestMACFromEEPROM(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	for _, m := range []e1000.Model{e1000.Model82540EM, e1000.Model82574L} {
		t.Run(m.String(), func(t *testing.T) {
			alloc := drivertest.NewMemAllocator()
			dev := e1000test.New(m, alloc)
			dev.SetMAC(mac, false)
			n, err := e1000.New(dev, alloc, mustPool(alloc), m, e1000.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if n.MAC().String() != mac.String() {
				t.Errorf("MAC = %v, want %v from EERD", n.MAC(), mac)
			}
			if ral, rah := dev.Reg(intel.RAL(0)), dev.Reg(intel.RAH(0)); ral != 0x33221102 || rah != 0x80005544 {
				t.Errorf("RAL/RAH = %#08x/%#08x, want 0x33221102/0x80005544", ral, rah)
			}
			if len(dev.Writes(intel.EERD)) != 3 {
				t.Errorf("EERD written %d times, want 3", len(dev.Writes(intel.EERD)))
			}
		})
	}
	// The 82544GC has no EERD: an invalid RAL/RAH is an error, not garbage.
	alloc := drivertest.NewMemAllocator()
	dev := e1000test.New(e1000.Model82544GC, alloc)
	dev.SetMAC(mac, false)
	pool := mustPool(alloc)
	if n, err := e1000.New(dev, alloc, pool, e1000.Model82544GC, e1000.Options{}); err == nil {
		n.Close()
		t.Fatal("82544GC without a MAC in RAL/RAH: New succeeded")
	}
	pool.Close()
	if alloc.Open() != 0 {
		t.Fatalf("%d DMA regions left open after a failed New", alloc.Open())
	}
}

func TestResetWait(t *testing.T) {
	alloc := drivertest.NewMemAllocator()
	dev := e1000test.New(e1000.Model82540EM, alloc)
	dev.ResetReads = 3
	n, err := e1000.New(dev, alloc, mustPool(alloc), e1000.Model82540EM, e1000.Options{})
	if err != nil {
		t.Fatalf("New with a slow reset: %v", err)
	}
	n.Close()

	alloc = drivertest.NewMemAllocator()
	dev = e1000test.New(e1000.Model82540EM, alloc)
	dev.ResetReads = 1 << 30 // CTRL.RST never clears
	pool := mustPool(alloc)
	if _, err := e1000.New(dev, alloc, pool, e1000.Model82540EM, e1000.Options{}); !errors.Is(err, mmio.ErrTimeout) {
		t.Fatalf("New with a stuck reset = %v, want mmio.ErrTimeout", err)
	}
	pool.Close()
	if alloc.Open() != 0 {
		t.Fatalf("%d DMA regions left open", alloc.Open())
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		model e1000.Model
		opts  e1000.Options
	}{
		{"rx ring not a power of two", e1000.Model82540EM, e1000.Options{RxRingSize: 100}},
		{"rx ring too small", e1000.Model82540EM, e1000.Options{RxRingSize: 4}},
		{"tx ring too large", e1000.Model82540EM, e1000.Options{TxRingSize: 8192}},
		{"too few buffers", e1000.Model82540EM, e1000.Options{RxRingSize: 64, Buffers: 63}},
		{"MSI-X on 82540EM", e1000.Model82540EM, e1000.Options{MSIX: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev, alloc := newFake(t, tc.model)
			pool := newPool(t, alloc, e1000.Options{Buffers: tc.opts.Buffers})
			defer pool.Close()
			before := alloc.Allocated()
			if n, err := e1000.New(dev, alloc, pool, tc.model, tc.opts); err == nil {
				n.Close()
				t.Fatal("New succeeded")
			}
			if alloc.Allocated() != before || dev.Resets() != 1 {
				t.Fatal("New allocated or reset before validating options")
			}
		})
	}
	// An allocation failure at each step leaves nothing allocated.
	for fail := 1; fail <= 2; fail++ {
		alloc := drivertest.NewMemAllocator()
		pool := mustPool(alloc)
		alloc.FailAt = alloc.Allocated() + fail // the RX ring, then the TX ring
		dev := e1000test.New(e1000.Model82540EM, alloc)
		if n, err := e1000.New(dev, alloc, pool, e1000.Model82540EM, e1000.Options{}); err == nil {
			n.Close()
			t.Fatalf("allocation %d failing: New succeeded", fail)
		}
		if pool.Available() != pool.Len() {
			t.Fatalf("allocation %d failing: %d of %d buffers back in the pool", fail, pool.Available(), pool.Len())
		}
		pool.Close()
		if alloc.Open() != 0 {
			t.Fatalf("allocation %d failing: %d regions left open", fail, alloc.Open())
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	dev, alloc := newFake(t, e1000.Model82574L)
	pool := newPool(t, alloc, e1000.Options{Buffers: 3000})
	n, err := e1000.New(dev, alloc, pool, e1000.Model82574L, e1000.Options{RxRingSize: 2048})
	if err != nil {
		t.Fatal(err)
	}
	if alloc.Allocated() != 5 { // the pool's 3 chunks + 2 rings
		t.Errorf("allocated %d regions, want 5", alloc.Allocated())
	}
	n.EnableIRQ(n.Causes().All())
	resets := dev.Resets()
	for i := 0; i < 3; i++ {
		if err := n.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i, err)
		}
	}
	if alloc.Open() != 3 || pool.Available() != pool.Len() {
		t.Errorf("%d DMA regions still open after Close, %d of %d buffers in the pool; want the pool's 3 and all", alloc.Open(), pool.Available(), pool.Len())
	}
	pool.Close()
	if dev.Resets() != resets+1 {
		t.Errorf("Close reset the device %d times, want 1", dev.Resets()-resets)
	}
	if dev.Reg(intel.IMS) != 0 || dev.Reg(intel.RCTL)&intel.RCTL_EN != 0 || dev.Reg(intel.TCTL)&intel.TCTL_EN != 0 {
		t.Errorf("after Close: IMS %#x RCTL %#x TCTL %#x", dev.Reg(intel.IMS), dev.Reg(intel.RCTL), dev.Reg(intel.TCTL))
	}
	if dev.Reg(intel.CTRL_EXT)&intel.CTRL_EXT_DRV_LOAD != 0 {
		t.Error("CTRL_EXT.DRV_LOAD still set after Close")
	}
}

func newAllocOnly() *drivertest.MemAllocator { return drivertest.NewMemAllocator() }

func newDevice(m e1000.Model, a *drivertest.MemAllocator) *e1000test.Device {
	return e1000test.New(m, a)
}

// mustPool is a pool of 3*DefaultRingSize buffers, as Open makes for the
// default options, for tests that check something else.
func mustPool(alloc dma.Allocator) *driver.BufPool {
	p, err := driver.NewBufPool(alloc, 3*e1000.DefaultRingSize)
	if err != nil {
		panic(err)
	}
	return p
}
