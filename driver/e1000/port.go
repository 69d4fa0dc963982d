package e1000

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/mmio"
)

// OpenOptions configures Open.
type OpenOptions struct {
	// Backend reaches the device: driver.BackendVFIO (the zero value) or BackendUIO.
	Backend driver.Backend
	// NIC is the controller's configuration (rings, ITR, MSI-X, promiscuous).
	NIC Options
	// Hugepages backs VFIO DMA memory with 2 MiB pages.
	Hugepages bool
	// VFIOAPI picks the VFIO interface (group or cdev); the zero value,
	// vfio.APIAuto, takes the cdev where it is available.
	VFIOAPI driver.VFIOAPI
	// Poll attaches no interrupt (for busy polling): Vectors() is empty.
	Poll bool
	// CountRegs counts every register access (mmio.Counting around the
	// BAR; RegAccesses reads the counts): each is a trap into QEMU or an
	// uncached PCIe round trip. It costs an atomic add per access.
	CountRegs bool
}

// Device is an e1000-family NIC opened through VFIO or UIO. Queues puts it
// behind the core's driver.NIC interface (a driver.Opened for driver.NewPort).
type Device struct {
	bdf     string
	bus     busOps // a *driver.Bus; nil only in a Device being opened
	nic     *NIC
	vectors []driver.Vector
	causes  IRQCauses
	msix    bool
	counter *mmio.Counting // OpenOptions.CountRegs; nil otherwise

	// rxMu and txMu let Reinit stop the RX and TX paths (each is taken by
	// one goroutine at a time, so they are uncontended but during Reinit).
	rxMu      sync.Mutex
	txMu      sync.Mutex
	rxScratch []RxPacket // RX path only
	txScratch []TxPacket // TX path only
	hwMu      sync.Mutex // guards hw, reported
	hw        HWStats    // accumulated from the NIC, also across Reinit
	reported  HWStats    // what ReadHWStats has reported so far
	wd        watchState // CheckHang only
	// irqOn is the causes the driver has unmasked (EnableIRQ) and not masked
	// since (DisableIRQ): Reinit restores it, since a real reset clears IMS
	// (which a register read after the fact would then give back as 0).
	irqOn atomic.Uint32

	// irqMu guards rxOn and rxAutoMasked and orders the IMS/IMC writes for
	// the RX cause between the top half (AckIRQ, the RX vector's Unmask) and
	// the bottom half (EnableIRQ, DisableIRQ).
	irqMu        sync.Mutex
	rxOn         bool // software wants RX interrupts (EnableIRQ/DisableIRQ)
	rxAutoMasked bool // MSI-X: the NIC masked RXQ0 as it fired and nobody re-armed it yet

	closed     atomic.Bool
	teardownMu sync.Mutex // held by Close's teardown and by StopDMA: StopDMA never touches an unmapped BAR
	// teardown, when set (tests), is called with each step of Close as it
	// starts: "irq", "vectors", "busmaster", "reset", "release".
	teardown func(step string)
}

var _ driver.Opened = (*Device)(nil)

// busOps is what a Device needs from its bus to tear down in order
// (*driver.Bus; a recording fake in tests).
type busOps interface {
	DisableInterrupts() error
	DisableBusMaster() error
	KeepDMA()
	Close() error
}

var _ busOps = (*driver.Bus)(nil)

// Open opens the NIC at bdf, checks that it is a supported model, initialises
// it and attaches its interrupts. On error nothing is left open and the
// device is as it was (bound to its driver, reset by Close).
func Open(bdf string, o OpenOptions) (_ *Device, err error) {
	bus, err := driver.OpenBus(bdf, o.Backend, driver.BusOptions{Hugepages: o.Hugepages, Quiesce: Quiesce, VFIOAPI: o.VFIOAPI})
	if err != nil {
		return nil, err
	}
	// d is not the named result: "return nil, err" must not clear what the
	// deferred cleanup closes.
	d := &Device{bdf: bus.BDF, bus: bus, msix: o.NIC.MSIX}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	model, err := LookupModel(bus.Vendor, bus.DeviceID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bus.BDF, err)
	}
	if o.NIC.MSIX && o.Backend != driver.BackendVFIO {
		return nil, fmt.Errorf("%s: MSI-X needs the vfio backend", bus.BDF)
	}
	regs := bus.Regs
	if o.CountRegs {
		d.counter = mmio.NewCounting(regs)
		regs = d.counter
	}
	if d.nic, err = New(regs, bus.Alloc, model, o.NIC); err != nil {
		return nil, fmt.Errorf("%s: init %v: %w", bus.BDF, model, err)
	}
	d.causes = d.nic.Causes()
	d.rxScratch = make([]RxPacket, 256)
	d.txScratch = make([]TxPacket, 256)
	switch {
	case o.Poll:
	case o.NIC.MSIX:
		// 82574 10.2.4.9: IVAR routes RXQ0, TXQ0 and other causes to vectors 0, 1, 2.
		d.vectors, err = bus.MSIX(
			[]driver.Causes{driver.CauseRX, driver.CauseTX, driver.CauseLink},
			[]string{"rx", "tx", "other"})
	default:
		var v driver.Vector
		v, err = bus.INTx(driver.CauseRX | driver.CauseTX | driver.CauseLink)
		d.vectors = []driver.Vector{v}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: attach interrupts: %w", bus.BDF, err)
	}
	d.setRearm()
	return d, nil
}

// setRearm makes the MSI-X RX vector's Unmask re-arm RXQ0, which the NIC
// masked as it sent the message (see AckIRQ). The core calls Unmask when it
// is done with an interrupt: at once (copy top half) or once its bottom half
// has drained the ring (light top half, NAPI).
func (d *Device) setRearm() {
	if d.msix && len(d.vectors) > VecRX {
		d.vectors[VecRX].Unmask = d.rearmRX
	}
}

// rearmRX unmasks RXQ0 (one IMS write) unless software wants RX interrupts
// off (NAPI polling): then it stays masked, which costs nothing.
func (d *Device) rearmRX() error {
	d.irqMu.Lock()
	defer d.irqMu.Unlock()
	if d.rxOn {
		d.rxAutoMasked = false
		d.nic.EnableIRQ(d.causes.RX)
	}
	return nil
}

// RegAccesses is the register accesses made since Open, when it was asked
// to count them (OpenOptions.CountRegs); zero otherwise.
func (d *Device) RegAccesses() mmio.Accesses {
	if d.counter == nil {
		return mmio.Accesses{}
	}
	return d.counter.Snapshot()
}

// NIC is the hardware layer underneath.
func (d *Device) NIC() *NIC { return d.nic }

// BDF is the device's PCI address.
func (d *Device) BDF() string { return d.bdf }

func (d *Device) Name() string          { return d.nic.Model().String() }
func (d *Device) MAC() net.HardwareAddr { return d.nic.MAC() }

// RxBurst harvests completed frames (see NIC.RxBurst).
func (d *Device) RxBurst(out []driver.RxDesc) int {
	d.rxMu.Lock()
	defer d.rxMu.Unlock()
	if len(out) > len(d.rxScratch) {
		out = out[:len(d.rxScratch)]
	}
	n := d.nic.RxBurst(d.rxScratch[:len(out)])
	for i, p := range d.rxScratch[:n] {
		out[i] = driver.RxDesc{Buf: p.Buf, Len: p.Len, Status: p.Status, Errors: p.Errors, VLAN: p.Special}
		if p.Status&RXD_STAT_EOP == 0 {
			// The frame spanned descriptors; NIC.RxBurst frees the rest.
			out[i].Flags = driver.RxIncomplete
		}
	}
	return n
}

// BufSize is the size of every packet buffer (driver.BufSizer).
func (d *Device) BufSize() int { return BufSize }

// RefillRx posts free buffers (see NIC.RefillRx).
func (d *Device) RefillRx() int {
	d.rxMu.Lock()
	defer d.rxMu.Unlock()
	return d.nic.RefillRx()
}

// RxPending reports whether a frame waits (see NIC.RxPending).
func (d *Device) RxPending() bool {
	d.rxMu.Lock()
	defer d.rxMu.Unlock()
	return d.nic.RxPending()
}

// txBurst queues frames under the TX lock (see NIC.TxBurst).
func (d *Device) txBurst(pkts []TxPacket) int {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	return d.nic.TxBurst(pkts)
}

// TxBurst queues frames (see NIC.TxBurst).
func (d *Device) TxBurst(pkts []driver.TxDesc) int {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	sent := 0
	for len(pkts) > 0 {
		n := min(len(pkts), len(d.txScratch))
		for i, p := range pkts[:n] {
			d.txScratch[i] = TxPacket{Buf: p.Buf, Len: p.Len}
		}
		k := d.nic.TxBurst(d.txScratch[:n])
		sent += k
		if k < n {
			break
		}
		pkts = pkts[n:]
	}
	return sent
}

// SetTxBatch makes TxBurst ring the TX doorbell once per batch frames
// (see NIC.SetTxBatch); FlushTx rings it for the rest.
func (d *Device) SetTxBatch(batch int) {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	d.nic.SetTxBatch(batch)
}

// FlushTx rings the TX doorbell for queued frames that wait for it.
func (d *Device) FlushTx() {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	d.nic.FlushTx()
}

// ReclaimTx frees the buffers of sent frames (see NIC.ReclaimTx).
func (d *Device) ReclaimTx() int {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	return d.nic.ReclaimTx()
}

func (d *Device) Packet(buf uint32, n int) []byte { return d.nic.Packet(buf, n) }
func (d *Device) AllocBuf() (uint32, bool)        { return d.nic.AllocBuf() }
func (d *Device) FreeBufs(bufs []uint32)          { d.nic.FreeBufs(bufs) }
func (d *Device) FreeBuffers() int                { return d.nic.FreeBuffers() }
func (d *Device) Vectors() []driver.Vector        { return d.vectors }

func (d *Device) LinkUp() (bool, int) { return d.nic.LinkUp() }

// readStats adds what the NIC counted since the last call (including what
// Reinit collected before its reset) under the generic names and the
// e1000's extras (e1000Extras), and reports the link.
func (d *Device) readStats(s *driver.NICStats) {
	d.hwMu.Lock()
	defer d.hwMu.Unlock()
	d.nic.ReadStats(&d.hw)
	h, p := &d.hw, &d.reported
	s.RxPackets += h.GPRC - p.GPRC
	s.RxBytes += h.GORC - p.GORC
	s.RxMissed += h.MPC - p.MPC
	s.RxNoBuffer += h.RNBC - p.RNBC
	s.RxCRCErrors += h.CRCERRS - p.CRCERRS
	s.RxLengthErrors += h.RLEC - p.RLEC
	s.RxUndersize += h.RUC - p.RUC
	s.RxOversize += h.ROC - p.ROC
	s.TxPackets += h.GPTC - p.GPTC
	s.TxBytes += h.GOTC - p.GOTC
	for i, x := range [...]uint64{h.RXERRC - p.RXERRC, h.RFC - p.RFC, h.RJC - p.RJC, h.COLC - p.COLC, h.BPRC - p.BPRC, h.MPRC - p.MPRC} {
		s.Extra[i] += x
	}
	d.reported = d.hw
	s.Link, s.SpeedMbps = d.nic.LinkUp()
}

// HWStats returns every hardware counter accumulated so far.
func (d *Device) HWStats() HWStats {
	d.hwMu.Lock()
	defer d.hwMu.Unlock()
	return d.hw
}

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
	if d.nic != nil {
		d.nic.DisableIRQ(CauseAll)
		// RX and TX off too, not only bus mastering: a NIC left with
		// RCTL.EN and a ring address would use them again the moment
		// the next process turns bus mastering on.
		d.nic.wr(RCTL, 0)
		d.nic.wr(TCTL, TCTL_PSP)
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
	if d.nic != nil {
		step("irq")
		d.nic.DisableIRQ(CauseAll)
		if d.msix {
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
	if d.nic != nil {
		// NIC.Close resets and, only if the reset completed, releases
		// the rings and buffers.
		step("reset")
		if err := d.nic.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.bdf, err))
		}
		if d.nic.DMAKept() && d.bus != nil {
			d.bus.KeepDMA()
		}
	}
	if d.bus != nil {
		step("release")
		errs = append(errs, d.bus.Close())
	}
	return errors.Join(errs...)
}
