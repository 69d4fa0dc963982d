package igb

import (
	"errors"
	"fmt"
	"github.com/uiodrv/uiodrv/bus"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/mmio"
)

// OpenOptions configure Open.
type OpenOptions struct {
	// Access reaches the device: backend (UIO offers no MSI-X and so needs
	// Poll), hugepages, VFIO API, counted registers.
	bus.Access
	// NIC configures the controller (queues, rings, RSS, ITR). Its Vectors
	// must be nil: Open attaches one MSI-X vector per queue and one for link.
	NIC Options
	// Buffers is the size of the packet buffer pool; 0 means two full RX
	// rings and one TX ring per queue.
	Buffers int
	// Poll attaches no interrupt (busy polling).
	Poll bool
}

// Device is an igb-family NIC opened through VFIO or UIO: the NIC, the bus
// it sits on and the buffer pool Open made for it. Its Close releases all
// three, in an order that never lets the NIC write freed memory.
type Device struct {
	*NIC
	bus     *bus.Bus
	pool    *driver.BufPool
	counter *mmio.Counting // OpenOptions.CountRegs; nil otherwise
}

var (
	_ driver.NIC       = (*Device)(nil)
	_ driver.TxBatcher = (*Device)(nil)
)

// Open opens the NIC at bdf, checks that it is a supported model,
// attaches its MSI-X vectors and initialises it. Options are checked before
// the device is opened. On error nothing is left open.
func Open(bdf string, o OpenOptions) (_ *Device, err error) {
	if o.NIC.Vectors != nil {
		return nil, fmt.Errorf("%w: Open attaches the vectors itself", ErrBadOptions)
	}
	if !o.Poll && o.Backend != driver.BackendVFIO {
		return nil, fmt.Errorf("%w: MSI-X needs the vfio backend (uio_pci_generic offers INTx only): use vfio or polling", ErrBadOptions)
	}
	// The queue count is checked against the largest model here and
	// against the actual one once its ID is read.
	probe := o.NIC
	if err := probe.normalize(Model82576); err != nil {
		return nil, err
	}
	if o.Buffers == 0 {
		o.Buffers = probe.Queues * (2*probe.RxRingSize + probe.TxRingSize)
	}
	if o.Buffers < probe.Queues*probe.RxRingSize {
		return nil, fmt.Errorf("%w: %d buffers cannot fill %d RX rings of %d", ErrBadOptions, o.Buffers, probe.Queues, probe.RxRingSize)
	}
	var model Model
	known := func(vendor, device uint16) (err error) { model, err = LookupModel(vendor, device); return err }
	st, err := bus.StartNIC(bdf, o.Access, Quiesce, known, o.Buffers)
	if err != nil {
		return nil, err
	}
	bus, regs := st.Bus, st.Regs
	d := &Device{bus: bus, pool: st.Pool, counter: st.Counter}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if !o.Poll {
		causes := make([]driver.Causes, probe.Queues+1)
		names := make([]string, probe.Queues+1)
		for q := 0; q < probe.Queues; q++ {
			causes[q], names[q] = driver.CauseRX|driver.CauseTX, fmt.Sprintf("q%d", q)
		}
		causes[probe.Queues], names[probe.Queues] = driver.CauseLink, "other"
		if o.NIC.Vectors, err = bus.MSIX(causes, names); err != nil {
			return nil, fmt.Errorf("%s: attach %d MSI-X vectors: %w", bus.BDF, len(causes), err)
		}
	}
	if d.NIC, err = New(regs, bus.Alloc, d.pool, model, o.NIC); err != nil {
		return nil, fmt.Errorf("%s: %w", bus.BDF, err)
	}
	return d, nil
}

var _ driver.Opened = (*Device)(nil)

// Queues is the device and its pool as driver.NewPort takes them; the
// port's Close closes the Device (NIC, pool and bus).
func (d *Device) Queues() (driver.NIC, driver.Buffers) { return d, d.pool }

// Buffers is the pool Open made.
func (d *Device) Buffers() *driver.BufPool { return d.pool }

// BDF is the device's PCI address.
func (d *Device) BDF() string { return d.bus.BDF }

// RegAccesses is the register accesses made since Open, when it was asked
// to count them (OpenOptions.CountRegs); zero otherwise.
func (d *Device) RegAccesses() mmio.Accesses {
	if d.counter == nil {
		return mmio.Accesses{}
	}
	return d.counter.Snapshot()
}

// Close resets the NIC (its DMA stops), then frees the pool and closes the
// bus (interrupts, IOMMU mappings, BAR). Idempotent.
func (d *Device) Close() error {
	if d == nil {
		return nil
	}
	var err error
	if d.NIC != nil {
		err = d.NIC.Close()
	}
	if d.pool != nil {
		err = errors.Join(err, d.pool.Close())
		d.pool = nil
	}
	if d.bus != nil {
		err = errors.Join(err, d.bus.Close())
		d.bus = nil
	}
	return err
}
