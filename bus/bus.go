// Package bus opens a PCI function for a NIC family through VFIO (group
// and container, or iommufd and the device cdev) or UIO: BAR0 registers,
// DMA memory, interrupt vectors, bus mastering and reset. It is the only
// package of the framework that imports vfio, uio and pci (a test holds
// every other package to it): the core (driver) and the families' NIC logic
// see registers, an allocator and vectors, and front ends reach sysfs PCI
// (Addr, Sysfs, binding records, config space), the VFIO API choice and the
// backends' sentinel errors through the aliases of pci.go, vfioapi.go and
// errors.go, which are the backends' own types and values.
//
// Bus Master Enable is set last, after the family's Quiescer has stopped
// whatever an earlier process left running (Open, EnableBusMaster), so the
// NIC cannot write through a stale ring address; Close releases in an order
// that leaves the NIC nothing mapped to write.
package bus

import (
	"errors"
	"fmt"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/mmio"
	"github.com/uiodrv/uiodrv/pci"
	"github.com/uiodrv/uiodrv/uio"
	"github.com/uiodrv/uiodrv/vfio"
)

// Bus is an opened PCI device: its BAR0 registers, DMA memory and interrupts,
// whichever backend reaches it. It owns the backend device and closes it.
type Bus struct {
	BDF      string
	Backend  driver.Backend
	Vendor   uint16
	DeviceID uint16
	Regs     mmio.Regs
	Alloc    dma.Allocator

	vdev *vfio.Device
	udev *uio.Device
	cfg  *pci.Config // the backend's config space: VFIO config region or sysfs config file
}

// Options configures Open.
type Options struct {
	// Hugepages backs VFIO DMA memory with 2 MiB pages (UIO always uses them).
	Hugepages bool
	// VFIOAPI picks group/container or iommufd/cdev for BackendVFIO; the
	// zero value lets vfio.Open choose (cdev where it is available).
	VFIOAPI driver.VFIOAPI
	// Quiesce, when set, stops the NIC through BAR0 before Bus Master
	// Enable is set (see EnableBusMaster). Nil: bus mastering at once.
	Quiesce Quiescer
	// NoBAR0 maps no BAR0 (Bus.Regs stays nil): the family's registers
	// live in other BARs, which it maps with MapBAR (virtio-pci modern
	// devices have no BAR0). Quiesce must then be nil.
	NoBAR0 bool
}

// Open opens the device at bdf through the backend, maps BAR0, enables
// memory space, quiesces the NIC with opts.Quiesce, only then enables bus
// mastering, and prepares a DMA allocator. On error nothing is left open.
func Open(bdf string, b driver.Backend, opts Options) (_ *Bus, err error) {
	addr, err := pci.ParseAddr(bdf)
	if err != nil {
		return nil, err
	}
	// bus is not the named result: "return nil, err" must not clear what
	// the deferred cleanup closes.
	if opts.NoBAR0 && opts.Quiesce != nil {
		return nil, fmt.Errorf("%w: %s: a quiescer needs BAR0", driver.ErrBadConfig, addr)
	}
	bus := &Bus{BDF: addr.String(), Backend: b}
	defer func() {
		if err != nil {
			bus.Close()
		}
	}()
	var cfg *pci.Config
	switch b {
	case driver.BackendVFIO:
		if bus.vdev, err = vfio.Open(bus.BDF, &vfio.Options{API: vfio.API(opts.VFIOAPI)}); err != nil {
			return nil, err
		}
		if !opts.NoBAR0 {
			if bus.Regs, err = bus.vdev.BAR(0); err != nil {
				return nil, err
			}
		}
		if err = EnableBusMaster(bus.vdev.Config(), bus.Regs, opts.Quiesce); err != nil {
			return nil, fmt.Errorf("%s: %w", bus.BDF, err)
		}
		a, aerr := bus.vdev.Allocator(vfio.AllocatorOptions{Hugepages: opts.Hugepages})
		if aerr != nil {
			return nil, aerr
		}
		bus.Alloc = a
		cfg = bus.vdev.Config()
	case driver.BackendUIO:
		if bus.udev, err = uio.Open(bus.BDF, nil); err != nil {
			return nil, err
		}
		if !opts.NoBAR0 {
			if bus.Regs, err = bus.udev.BAR(0); err != nil {
				return nil, err
			}
		}
		if err = EnableBusMaster(bus.udev.Config(), bus.Regs, opts.Quiesce); err != nil {
			return nil, fmt.Errorf("%s: %w", bus.BDF, err)
		}
		a, aerr := bus.udev.Allocator()
		if aerr != nil {
			return nil, aerr
		}
		bus.Alloc = a
		cfg = bus.udev.Config()
	default:
		return nil, fmt.Errorf("%w: %v", driver.ErrUnknownBackend, b)
	}
	bus.cfg = cfg
	if bus.Vendor, err = cfg.Read16(pci.CfgVendorID); err != nil {
		return nil, fmt.Errorf("%s: read vendor ID: %w", bus.BDF, err)
	}
	if bus.DeviceID, err = cfg.Read16(pci.CfgVendorID + 2); err != nil {
		return nil, fmt.Errorf("%s: read device ID: %w", bus.BDF, err)
	}
	return bus, nil
}

// INTx attaches the legacy interrupt. Its vector acknowledges by reading the
// eventfd (VFIO) or the 4-byte count (UIO), and its Unmask re-arms the line,
// which both backends mask at each interrupt.
func (bus *Bus) INTx(causes driver.Causes) (driver.Vector, error) {
	switch {
	case bus.vdev != nil:
		q, err := bus.vdev.EnableINTx()
		if err != nil {
			return driver.Vector{}, err
		}
		return driver.Vector{Name: "intx", Fd: q.Fd(), Causes: causes, Unmask: q.Unmask}, nil
	case bus.udev != nil:
		q, err := bus.udev.IRQ()
		if err != nil {
			return driver.Vector{}, err
		}
		fd := q.Fd()
		var buf [4]byte
		ack := func() error {
			_, err := unix.Read(fd, buf[:])
			return err
		}
		return driver.Vector{Name: "intx", Fd: fd, Causes: causes, Ack: ack, Unmask: q.Unmask}, nil
	}
	return driver.Vector{}, errors.New("bus closed")
}

// MSIX attaches n MSI-X vectors (VFIO only); vector i signals causes[i].
func (bus *Bus) MSIX(causes []driver.Causes, names []string) ([]driver.Vector, error) {
	if bus.vdev == nil {
		return nil, fmt.Errorf("%s: MSI-X needs the vfio backend (uio_pci_generic offers INTx only)", bus.BDF)
	}
	qs, err := bus.vdev.EnableMSIX(len(causes))
	if err != nil {
		return nil, err
	}
	vs := make([]driver.Vector, len(qs))
	for i, q := range qs {
		vs[i] = driver.Vector{Name: names[i], Fd: q.Fd(), Causes: causes[i]}
	}
	return vs, nil
}

// DisableInterrupts stops the device's interrupts at the bus: VFIO disables
// every IRQ index it attached (INTx, MSI-X), UIO sets Interrupt Disable in
// the command register. The vectors' fds stay open until Close.
func (bus *Bus) DisableInterrupts() error {
	switch {
	case bus.vdev != nil:
		return bus.vdev.DisableInterrupts()
	case bus.udev != nil:
		return bus.udev.MaskINTx()
	}
	return errors.New("bus closed")
}

// DisableBusMaster clears Bus Master Enable in the PCI command register
// (through the VFIO config region or the sysfs config file) and reads it
// back: once it reads 0 the device initiates no more DMA (PCI 3.0 6.2.2).
// It errors when the bit cannot be cleared.
func (bus *Bus) DisableBusMaster() error {
	if bus.cfg == nil {
		return errors.New("bus closed")
	}
	if err := bus.cfg.DisableBusMaster(); err != nil {
		return fmt.Errorf("%s: disable bus mastering: %w", bus.BDF, err)
	}
	on, err := bus.BusMaster()
	if err != nil {
		return fmt.Errorf("%s: disable bus mastering: %w", bus.BDF, err)
	}
	if on {
		return fmt.Errorf("%s: disable bus mastering: Bus Master Enable still reads 1", bus.BDF)
	}
	return nil
}

// BusMaster reads Bus Master Enable from the command register.
func (bus *Bus) BusMaster() (bool, error) {
	if bus.cfg == nil {
		return false, errors.New("bus closed")
	}
	cmd, err := bus.cfg.Command()
	if err != nil {
		return false, err
	}
	return cmd&pci.CmdMaster != 0, nil
}

// Reset resets the device through VFIO_DEVICE_RESET (function-level or
// bus reset, as the kernel chooses), under whatever runs on it. VFIO only;
// it wraps vfio.ErrUnsupported when the device offers no reset.
func (bus *Bus) Reset() error {
	if bus.vdev == nil {
		return fmt.Errorf("%s: reset needs the vfio backend", bus.BDF)
	}
	return bus.vdev.Reset()
}

// KeepDMA makes Close leave the DMA memory from Alloc mapped (not unmapped,
// not freed) until the process exits. Call it when the device could not be
// stopped and may still write that memory.
func (bus *Bus) KeepDMA() {
	switch {
	case bus.vdev != nil:
		bus.vdev.KeepDMA()
	case bus.udev != nil:
		bus.udev.KeepDMA()
	}
}

// Close releases the device: interrupts, DMA mappings (unless KeepDMA), BAR,
// fds. Idempotent; a nil Bus is closed.
func (bus *Bus) Close() error {
	if bus == nil {
		return nil
	}
	var err error
	if bus.vdev != nil {
		err = bus.vdev.Close()
	}
	if bus.udev != nil {
		err = errors.Join(err, bus.udev.Close())
	}
	return err
}
