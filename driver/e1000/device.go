package e1000

import (
	"errors"
	"fmt"
	"github.com/uiodrv/uiodrv/bus"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

// OpenOptions configures Open.
type OpenOptions struct {
	// Access reaches the device: backend, hugepages, VFIO API, counted
	// registers.
	bus.Access
	// NIC is the controller's configuration (rings, ITR, MSI-X, promiscuous).
	NIC Options
	// Poll attaches no interrupt (for busy polling): Vectors() is empty.
	Poll bool
}

// Device is an e1000-family NIC opened through VFIO or UIO: the NIC, the
// bus it sits on and the buffer pool Open made for it. Its Close releases all
// three, in an order that never lets the NIC write freed memory.
type Device struct {
	*NIC
	bdf     string
	bus     busOps // a *bus.Bus; nil only in a Device being opened
	pool    *driver.BufPool
	counter *mmio.Counting // OpenOptions.CountRegs; nil otherwise

	closed     atomic.Bool
	teardownMu sync.Mutex // held by Close's teardown and by StopDMA: StopDMA never touches an unmapped BAR
	// teardown, when set (tests), is called with each step of Close as it
	// starts: "irq", "vectors", "busmaster", "reset", "release".
	teardown func(step string)
}

var _ driver.Opened = (*Device)(nil)

// busOps is what a Device needs from its bus to tear down in order
// (*bus.Bus; a recording fake in tests).
type busOps interface {
	DisableInterrupts() error
	DisableBusMaster() error
	KeepDMA()
	Close() error
}

var _ busOps = (*bus.Bus)(nil)

// Open opens the NIC at bdf, checks that it is a supported model, initialises
// it and attaches its interrupts. On error nothing is left open and the
// device is as it was (bound to its driver, reset by Close).
func Open(bdf string, o OpenOptions) (_ *Device, err error) {
	if o.NIC.MSIX && o.Backend != driver.BackendVFIO {
		return nil, fmt.Errorf("%s: MSI-X needs the vfio backend", bdf)
	}
	// The options are checked against the model once its ID is read; the
	// ring sizes and the pool size here, before the device is opened.
	probe := o.NIC
	if err := probe.normalize(Model82574L); err != nil {
		return nil, fmt.Errorf("%s: %w", bdf, err)
	}
	var model Model
	known := func(vendor, device uint16) (err error) { model, err = LookupModel(vendor, device); return err }
	st, err := bus.StartNIC(bdf, o.Access, Quiesce, known, probe.Buffers)
	if err != nil {
		return nil, err
	}
	bus, regs := st.Bus, st.Regs
	// d is not the named result: "return nil, err" must not clear what the
	// deferred cleanup closes.
	d := &Device{bdf: bus.BDF, bus: bus, pool: st.Pool, counter: st.Counter}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.NIC, err = New(regs, bus.Alloc, d.pool, model, o.NIC); err != nil {
		return nil, fmt.Errorf("%s: init %v: %w", bus.BDF, model, err)
	}
	var vectors []driver.Vector
	switch {
	case o.Poll:
	case o.NIC.MSIX:
		// 82574 10.2.4.9: IVAR routes RXQ0, TXQ0 and other causes to vectors 0, 1, 2.
		vectors, err = bus.MSIX(
			[]driver.Causes{driver.CauseRX, driver.CauseTX, driver.CauseLink},
			[]string{"rx", "tx", "other"})
	default:
		var v driver.Vector
		v, err = bus.INTx(driver.CauseRX | driver.CauseTX | driver.CauseLink)
		vectors = []driver.Vector{v}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: attach interrupts: %w", bus.BDF, err)
	}
	d.setVectors(vectors)
	return d, nil
}

// Queues is the device and its pool as driver.NewPort takes them; the
// port's Close closes the Device (NIC, pool and bus).
func (d *Device) Queues() (driver.NIC, driver.Buffers) { return d, d.pool }

// Buffers is the pool Open made.
func (d *Device) Buffers() *driver.BufPool { return d.pool }

// RegAccesses is the register accesses made since Open, when it was asked
// to count them (OpenOptions.CountRegs); zero otherwise.
func (d *Device) RegAccesses() mmio.Accesses {
	if d.counter == nil {
		return mmio.Accesses{}
	}
	return d.counter.Snapshot()
}

// BDF is the device's PCI address.
func (d *Device) BDF() string { return d.bdf }

// StopDMA masks the NIC's interrupts, clears RX and TX enable and turns bus
// mastering off, and releases nothing. It is for a process that exits without Close (a second
// SIGINT): once bus mastering is off the NIC can no longer write the memory
// that the kernel hands out again when the process is gone. It may be called
// from any goroutine while the packet path runs; it returns nil at once when
// Close has begun (Close does the same and more).
func (d *Device) StopDMA() error {
	if d == nil || !d.teardownMu.TryLock() {
		return nil
	}
	defer d.teardownMu.Unlock()
	if d.closed.Load() {
		return nil
	}
	if d.NIC != nil {
		d.wr(intel.IMC, uint32(CauseAll))
		// RX and TX off too, not only bus mastering: a NIC left with
		// RCTL.EN and a ring address would use them again the moment
		// the next process turns bus mastering on.
		d.wr(intel.RCTL, 0)
		d.wr(intel.TCTL, intel.TCTL_PSP)
	}
	if d.bus == nil {
		return nil
	}
	if err := d.bus.DisableBusMaster(); err != nil {
		return fmt.Errorf("%s: stop DMA: %w", d.bdf, err)
	}
	return nil
}

// Close shuts the NIC down in an order that never lets it write memory that
// is being freed:
//
//  1. interrupts masked at the NIC (IMC, SDM 13.4.21);
//  2. the vectors released at the bus (VFIO: IRQ indexes disabled; UIO:
//     INTx Disable in the command register);
//  3. bus mastering off (PCI command register bit 2, read back as 0): the
//     NIC initiates no more DMA;
//  4. reset (CTRL.RST, waited for; SDM 14.x);
//  5. only then the DMA memory released, and the device closed (IOMMU
//     mappings, BAR, fds).
//
// If the reset fails, the DMA memory is kept (not unmapped, not freed, never
// reused) and the error says so. Every step runs even when an earlier one
// failed; the errors are joined. Close marks the Device closed first: a
// second call returns nil at once.
func (d *Device) Close() error {
	if d == nil || !d.closed.CompareAndSwap(false, true) {
		return nil
	}
	d.teardownMu.Lock()
	defer d.teardownMu.Unlock()
	step := func(s string) {
		if d.teardown != nil {
			d.teardown(s)
		}
	}
	var errs []error
	if d.NIC != nil {
		step("irq")
		d.wr(intel.IMC, uint32(CauseAll))
		if d.opts.MSIX {
			// QEMU 7.2's e1000e arms a throttling timer (EITR) at each
			// MSI-X message and aborts if MSI-X is disabled when it
			// fires: with the NIC's interrupts masked, let any pending
			// one expire before the bus disables MSI-X.
			time.Sleep(20 * time.Millisecond)
		}
	}
	if d.bus != nil {
		step("vectors")
		if err := d.bus.DisableInterrupts(); err != nil {
			errs = append(errs, fmt.Errorf("%s: close: disable interrupts: %w", d.bdf, err))
		}
		step("busmaster")
		if err := d.bus.DisableBusMaster(); err != nil {
			errs = append(errs, fmt.Errorf("%s: close: %w", d.bdf, err))
		}
	}
	kept := false
	if d.NIC != nil {
		// NIC.Close resets and, only if the reset completed, releases
		// the rings and gives their buffers back to the pool.
		step("reset")
		if err := d.NIC.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.bdf, err))
		}
		kept = d.DMAKept()
		if kept && d.bus != nil {
			d.bus.KeepDMA()
		}
	}
	step("release")
	if d.pool != nil && !kept {
		// The pool's memory is the backend's: with KeepDMA the bus
		// leaves it mapped, and so must we.
		errs = append(errs, d.pool.Close())
	}
	if d.bus != nil {
		errs = append(errs, d.bus.Close())
	}
	return errors.Join(errs...)
}
