package e1000_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

// events is an ordered record of what a teardown did, from every fake.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) { e.mu.Lock(); e.log = append(e.log, s); e.mu.Unlock() }

func (e *events) all() []string { e.mu.Lock(); defer e.mu.Unlock(); return slices.Clone(e.log) }

// recRegs records the register writes that matter to the teardown order:
// interrupts masked (IMC of every cause) and the reset (CTRL.RST).
type recRegs struct {
	*e1000test.Device
	ev *events
}

func (r recRegs) Write32(off, v uint32) {
	switch {
	case e1000.Reg(off) == intel.IMC && v == uint32(e1000.CauseAll):
		r.ev.add("imc")
	case e1000.Reg(off) == intel.CTRL && v&intel.CTRL_RST != 0:
		r.ev.add("reset")
	}
	r.Device.Write32(off, v)
}

// fakeBus records the bus side of the teardown. Bus master starts on, as
// OpenBus leaves it.
type fakeBus struct {
	ev     *events
	master bool
	bmErr  error
}

func (b *fakeBus) DisableInterrupts() error { b.ev.add("vectors"); return nil }
func (b *fakeBus) DisableBusMaster() error {
	b.ev.add("busmaster-off")
	if b.bmErr != nil {
		return b.bmErr
	}
	b.master = false
	return nil
}
func (b *fakeBus) KeepDMA()     { b.ev.add("keep") }
func (b *fakeBus) Close() error { b.ev.add("bus-close"); return nil }

func newTeardownDevice(t *testing.T, m e1000.Model, msix bool) (*e1000.Device, *e1000test.Device, *drivertest.MemAllocator, *fakeBus, *events) {
	t.Helper()
	ev := &events{}
	alloc := drivertest.NewMemAllocator()
	alloc.OnRelease = func(addr uint64) { ev.add(fmt.Sprintf("free %#x", addr)) }
	fake := e1000test.New(m, alloc)
	fake.SetMSIX(msix)
	nic, err := e1000.New(recRegs{fake, ev}, alloc, mustPool(alloc), m, e1000.Options{MSIX: msix})
	if err != nil {
		t.Fatal(err)
	}
	nic.SetIRQ(0, driver.CauseRX|driver.CauseLink, true)
	bus := &fakeBus{ev: ev, master: true}
	ev.mu.Lock()
	ev.log = nil // New's own IMC and reset are not the teardown
	ev.mu.Unlock()
	return e1000.NewDeviceOn("0000:00:03.0", nic, bus, nil), fake, alloc, bus, ev
}

// index returns the position of the first event with prefix p, or -1.
func index(log []string, p string) int {
	return slices.IndexFunc(log, func(s string) bool { return strings.HasPrefix(s, p) })
}

// TestCloseOrder: interrupts off, vectors released, bus mastering off, reset,
// and only then is any DMA region freed, then the bus closed.
func TestCloseOrder(t *testing.T) {
	for _, tc := range []struct {
		m    e1000.Model
		msix bool
	}{{e1000.Model82540EM, false}, {e1000.Model82574L, true}} {
		t.Run(fmt.Sprintf("%v msix=%v", tc.m, tc.msix), func(t *testing.T) {
			dev, fake, alloc, bus, ev := newTeardownDevice(t, tc.m, tc.msix)
			if err := dev.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			log := ev.all()
			t.Logf("teardown: %v", log)
			order := []string{"imc", "vectors", "busmaster-off", "reset", "free", "bus-close"}
			last := -1
			for _, s := range order {
				i := index(log, s)
				if i < 0 {
					t.Fatalf("no %q in %v", s, log)
				}
				if i < last {
					t.Fatalf("%q at %d comes before an earlier step (at %d): %v", s, i, last, log)
				}
				last = i
			}
			// Every free comes after the reset and the bus master off.
			reset, bm := index(log, "reset"), index(log, "busmaster-off")
			for i, s := range log {
				if strings.HasPrefix(s, "free") && (i < reset || i < bm) {
					t.Fatalf("DMA freed at step %d, before bus master off (%d) or reset (%d): %v", i, bm, reset, log)
				}
			}
			if index(log, "keep") >= 0 {
				t.Errorf("memory kept after a good reset: %v", log)
			}
			if bus.master {
				t.Error("bus master still on")
			}
			if alloc.Open() != 0 {
				t.Errorf("%d DMA regions still open", alloc.Open())
			}
			if fake.Reg(intel.IMS) != 0 {
				t.Errorf("IMS %#x after Close", fake.Reg(intel.IMS))
			}
			// Idempotent: nothing more happens.
			if err := dev.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if n := len(ev.all()); n != len(log) {
				t.Errorf("second Close did %d more steps", n-len(log))
			}
		})
	}
}

// TestCloseResetTimeoutKeepsMemory: when CTRL.RST never clears, the NIC may
// still be writing; Close frees no DMA region, tells the bus to keep its
// memory, and says so in its error.
func TestCloseResetTimeoutKeepsMemory(t *testing.T) {
	dev, fake, alloc, bus, ev := newTeardownDevice(t, e1000.Model82540EM, false)
	fake.ResetReads = 1 << 30 // the next reset never completes
	err := dev.Close()
	if !errors.Is(err, mmio.ErrTimeout) || !strings.Contains(err.Error(), "kept, not freed") {
		t.Fatalf("Close = %v, want a reset timeout saying the memory is kept", err)
	}
	log := ev.all()
	t.Logf("teardown: %v; error: %v", log, err)
	if i := index(log, "free"); i >= 0 {
		t.Fatalf("DMA region freed although the reset failed: %v", log)
	}
	if alloc.Open() != alloc.Allocated() || alloc.Open() == 0 {
		t.Fatalf("%d of %d DMA regions open, want all", alloc.Open(), alloc.Allocated())
	}
	keep, closed := index(log, "keep"), index(log, "bus-close")
	if keep < 0 || keep > closed {
		t.Fatalf("the bus was not told to keep its memory before it closed: %v", log)
	}
	if bus.master {
		t.Error("bus master still on")
	}
	if err := dev.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseBusMasterFailure: a bus master error is reported, and the reset
// still runs before memory is freed.
func TestCloseBusMasterFailure(t *testing.T) {
	dev, _, alloc, bus, ev := newTeardownDevice(t, e1000.Model82540EM, false)
	bus.bmErr = errors.New("config write refused")
	err := dev.Close()
	if err == nil || !strings.Contains(err.Error(), "config write refused") {
		t.Fatalf("Close = %v, want the bus master error", err)
	}
	log := ev.all()
	if r, f := index(log, "reset"), index(log, "free"); r < 0 || f < r {
		t.Fatalf("free before reset: %v", log)
	}
	if alloc.Open() != 0 {
		t.Errorf("%d DMA regions open after a completed reset", alloc.Open())
	}
}

// TestStopDMA: the fast-exit path masks interrupts and turns bus mastering
// off, frees nothing and resets nothing; after Close it does nothing.
func TestStopDMA(t *testing.T) {
	dev, fake, alloc, bus, ev := newTeardownDevice(t, e1000.Model82540EM, false)
	resets := fake.Resets()
	if err := dev.StopDMA(); err != nil {
		t.Fatal(err)
	}
	log := ev.all()
	if !slices.Equal(log, []string{"imc", "busmaster-off"}) || bus.master || fake.Reg(intel.IMS) != 0 {
		t.Fatalf("StopDMA did %v (bus master %v, IMS %#x), want imc, busmaster-off", log, bus.master, fake.Reg(intel.IMS))
	}
	if alloc.Open() != alloc.Allocated() || fake.Resets() != resets {
		t.Fatal("StopDMA freed memory or reset the NIC")
	}
	if fake.Reg(intel.RCTL)&intel.RCTL_EN != 0 || fake.Reg(intel.TCTL)&intel.TCTL_EN != 0 {
		t.Errorf("StopDMA left RCTL %#x TCTL %#x: want RX and TX off", fake.Reg(intel.RCTL), fake.Reg(intel.TCTL))
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	n := len(ev.all())
	if err := dev.StopDMA(); err != nil || len(ev.all()) != n {
		t.Fatalf("StopDMA after Close = %v and did %v", err, ev.all()[n:])
	}
}
