package virtio

import (
	"errors"
	"fmt"
	"github.com/uiodrv/uiodrv/bus"

	"github.com/uiodrv/uiodrv/driver"
)

// OpenOptions configure Open.
type OpenOptions struct {
	// NIC configures the device (queues, ring size). Its Vectors must be
	// nil: Open attaches one MSI-X vector per queue pair and one for
	// configuration changes. Open requires ACCESS_PLATFORM under VFIO.
	NIC Options
	// Buffers is the size of the packet buffer pool; 0 means three full
	// rings' worth of frames per queue (RingSize/2 each).
	Buffers int
	// Hugepages backs VFIO DMA memory with 2 MiB pages.
	Hugepages bool
	// VFIOAPI picks the VFIO interface (group or cdev).
	VFIOAPI driver.VFIOAPI
	// Poll attaches no interrupt (busy polling).
	Poll bool
}

// Device is a virtio-net device opened through VFIO: the NIC, the bus it
// sits on and the buffer pool Open made for it. Its Close resets the device
// before it frees the pool and closes the bus.
type Device struct {
	*NIC
	bus  *bus.Bus
	pool *driver.BufPool
}

var _ driver.Opened = (*Device)(nil)

// Open opens the virtio-net device at bdf through VFIO (the only backend:
// the device must translate IOVAs, and its interrupts are MSI-X), reads its
// virtio capabilities from config space, maps the BARs they name, attaches
// its MSI-X vectors and initialises it. A legacy device is refused before
// anything is written to it. On error nothing is left open.
func Open(bdf string, o OpenOptions) (_ *Device, err error) {
	if o.NIC.Vectors != nil {
		return nil, fmt.Errorf("%w: Open attaches the vectors itself", ErrBadOptions)
	}
	probe := o.NIC
	if err := probe.normalize(); err != nil {
		return nil, err
	}
	if o.Buffers == 0 {
		o.Buffers = probe.Queues * 3 * probe.RingSize / 2
	}
	b, err := bus.Open(bdf, driver.BackendVFIO, bus.Options{Hugepages: o.Hugepages, VFIOAPI: o.VFIOAPI, NoBAR0: true})
	if err != nil {
		return nil, err
	}
	d := &Device{bus: b}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if b.Vendor != VendorRedHat || b.DeviceID != DeviceNetModern {
		return nil, fmt.Errorf("%s: %w: PCI ID %04x:%04x is not a modern virtio-net device (%04x:%04x): start QEMU's virtio-net-pci with disable-legacy=on",
			b.BDF, ErrLegacyDevice, b.Vendor, b.DeviceID, VendorRedHat, DeviceNetModern)
	}
	caps, err := findCaps(b.Config())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.BDF, err)
	}
	tr, err := transportFrom(caps, b.MapBAR)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.BDF, err)
	}
	if d.pool, err = driver.NewBufPool(b.Alloc, o.Buffers); err != nil {
		return nil, fmt.Errorf("%s: %w", b.BDF, err)
	}
	if !o.Poll {
		causes := make([]driver.Causes, probe.Queues+1)
		names := make([]string, probe.Queues+1)
		for q := 0; q < probe.Queues; q++ {
			causes[q], names[q] = driver.CauseRX|driver.CauseTX, fmt.Sprintf("q%d", q)
		}
		causes[probe.Queues], names[probe.Queues] = driver.CauseLink, "config"
		if o.NIC.Vectors, err = b.MSIX(causes, names); err != nil {
			return nil, fmt.Errorf("%s: attach %d MSI-X vectors: %w", b.BDF, len(causes), err)
		}
	}
	o.NIC.RequireAccessPlatform = true
	if d.NIC, err = New(tr, b.Alloc, d.pool, o.NIC); err != nil {
		return nil, fmt.Errorf("%s: %w", b.BDF, err)
	}
	return d, nil
}

// Queues is the device and its pool as driver.NewPort takes them.
func (d *Device) Queues() (driver.NIC, driver.Buffers) { return d, d.pool }

// Buffers is the pool Open made.
func (d *Device) Buffers() *driver.BufPool { return d.pool }

// BDF is the device's PCI address.
func (d *Device) BDF() string { return d.bus.BDF }

// Close resets the device (it stops using the rings), then frees the pool
// and closes the bus. When the reset does not complete, the DMA memory is
// kept mapped until the process exits. Idempotent.
func (d *Device) Close() error {
	if d == nil {
		return nil
	}
	var err error
	if d.NIC != nil {
		if err = d.NIC.Close(); err != nil && d.bus != nil {
			d.bus.KeepDMA()
		}
	}
	if d.pool != nil && err == nil {
		err = errors.Join(err, d.pool.Close())
	}
	d.pool = nil
	if d.bus != nil {
		err = errors.Join(err, d.bus.Close())
		d.bus = nil
	}
	return err
}
