package vfio

import (
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/mmio"
	"github.com/uiodrv/uiodrv/pci"
)

// DeviceInfo is what VFIO_DEVICE_GET_INFO reports.
type DeviceInfo struct {
	Flags      uint32 // DeviceFlags*
	NumRegions int
	NumIRQs    int
}

// RegionInfo describes one region (BAR, ROM, config space) of the device fd.
type RegionInfo struct {
	Index  int
	Flags  uint32 // RegionFlag*
	Size   uint64
	Offset uint64 // file offset in the device fd
}

// IRQInfo describes one IRQ index (INTx, MSI, MSI-X...).
type IRQInfo struct {
	Index int
	Flags uint32 // IRQInfo*
	Count int    // number of vectors; 0 if the device lacks this kind
}

// Device is an open VFIO device fd. Its methods are safe for concurrent use.
//
// Ownership: the Device owns its fd, its BAR mappings, the IRQs it created,
// the Allocators it created (and their regions), and, when it came from Open,
// its group and container (or its iommufd). Close releases them all.
type Device struct {
	Name string // PCI address, e.g. 0000:00:03.0

	container *Container // not owned (unless adopted); nil if the group had none
	iommufd   *IOMMUFD   // the IOAS it is attached to (cdev path; adopted); nil on the group path
	mu        sync.Mutex
	fd        int
	closed    bool
	info      DeviceInfo
	bars      map[int][]byte
	cfg       *pci.Config
	irqs      map[*IRQ]struct{}
	active    map[int]bool // IRQ indexes with triggers set
	allocs    []*Allocator
	keepDMA   bool           // Close leaves the Allocators' memory mapped (see KeepDMA)
	owned     []func() error // run after the device fd is closed (group, container)
	// irqHdr is the VFIO_DEVICE_SET_IRQS argument of the calls without
	// eventfds (the INTx unmask after every interrupt), reused under mu so
	// that the packet path allocates nothing.
	irqHdr [sizeofIRQSetHeader]byte
}

func newDevice(fd int, name string, c *Container) (*Device, error) {
	d := &Device{Name: name, fd: fd, container: c, bars: map[int][]byte{}, irqs: map[*IRQ]struct{}{}, active: map[int]bool{}}
	di := deviceInfo{Argsz: 24}
	if _, err := ioctlPtr(fd, ioctlDeviceGetInfo, &di); err != nil {
		closeFD(fd)
		return nil, fmt.Errorf("vfio: get info of device %s: %w", name, err)
	}
	d.info = DeviceInfo{Flags: di.Flags, NumRegions: int(di.NumRegions), NumIRQs: int(di.NumIRQs)}
	d.cfg = pci.NewConfig(configRegion{d})
	return d, nil
}

func (d *Device) with(f func(fd int) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	return f(d.fd)
}

// Info returns the device's flags and region and IRQ counts.
func (d *Device) Info() DeviceInfo { return d.info }

// Fd returns the device fd, owned by the Device.
func (d *Device) Fd() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fd
}

// RegionInfo queries region index (RegionBAR0..RegionConfig).
func (d *Device) RegionInfo(index int) (RegionInfo, error) {
	var ri RegionInfo
	err := d.with(func(fd int) error {
		r := regionInfo{Argsz: 32, Index: uint32(index)}
		if _, err := ioctlPtr(fd, ioctlDeviceGetRegionInfo, &r); err != nil {
			return fmt.Errorf("vfio: get info of region %d of %s: %w", index, d.Name, err)
		}
		ri = RegionInfo{Index: index, Flags: r.Flags, Size: r.Size, Offset: r.Offset}
		return nil
	})
	return ri, err
}

// MapBAR mmaps BAR index (0..5) read-write and returns it. The mapping is
// made once, owned by the Device and unmapped by Close.
func (d *Device) MapBAR(index int) ([]byte, error) {
	if index < RegionBAR0 || index > RegionBAR5 {
		return nil, fmt.Errorf("vfio: map BAR %d of %s: not a BAR index", index, d.Name)
	}
	ri, err := d.RegionInfo(index)
	if err != nil {
		return nil, err
	}
	if ri.Size == 0 {
		return nil, fmt.Errorf("vfio: map BAR %d of %s: BAR not implemented", index, d.Name)
	}
	if ri.Flags&RegionFlagMmap == 0 {
		return nil, fmt.Errorf("vfio: map BAR %d of %s: region not mmappable (flags %#x; an I/O BAR?)", index, d.Name, ri.Flags)
	}
	var mem []byte
	err = d.with(func(fd int) error {
		if m, ok := d.bars[index]; ok {
			mem = m
			return nil
		}
		m, err := mmap(fd, int64(ri.Offset), int(ri.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("vfio: mmap BAR %d of %s (%d bytes): %w", index, d.Name, ri.Size, err)
		}
		d.bars[index] = m
		mem = m
		return nil
	})
	return mem, err
}

// BAR maps BAR index and wraps it for register access.
func (d *Device) BAR(index int) (*mmio.BAR, error) {
	m, err := d.MapBAR(index)
	if err != nil {
		return nil, err
	}
	return mmio.NewBAR(m), nil
}

// Config returns the device's configuration space (the VFIO config region).
// It is owned by the Device.
func (d *Device) Config() *pci.Config { return d.cfg }

// EnableBusMaster sets Memory Space and Bus Master Enable in the command
// register: vfio-pci leaves bus mastering off, and without it no DMA happens.
func (d *Device) EnableBusMaster() error { return d.cfg.EnableBusMaster() }

// configRegion reads and writes region 7 through pread/pwrite on the device fd.
type configRegion struct{ d *Device }

func (c configRegion) ReadAt(p []byte, off int64) (int, error) {
	var n int
	err := c.d.with(func(fd int) error {
		var err error
		n, err = pread(fd, p, regionOffset(RegionConfig)+off)
		if err == nil && n < len(p) {
			err = fmt.Errorf("short read %d of %d bytes", n, len(p))
		}
		return err
	})
	return n, err
}

func (c configRegion) WriteAt(p []byte, off int64) (int, error) {
	var n int
	err := c.d.with(func(fd int) error {
		var err error
		n, err = pwrite(fd, p, regionOffset(RegionConfig)+off)
		if err == nil && n < len(p) {
			err = fmt.Errorf("short write %d of %d bytes", n, len(p))
		}
		return err
	})
	return n, err
}

// Reset resets the device (function-level or bus reset as the kernel
// chooses). It wraps ErrUnsupported when the device cannot be reset.
func (d *Device) Reset() error {
	if d.info.Flags&DeviceFlagsReset == 0 {
		return fmt.Errorf("%w: %s offers no reset (VFIO_DEVICE_FLAGS_RESET clear)", ErrUnsupported, d.Name)
	}
	return d.with(func(fd int) error {
		if _, err := ioctlVal(fd, ioctlDeviceReset, 0); err != nil {
			return fmt.Errorf("vfio: reset %s: %w", d.Name, err)
		}
		return nil
	})
}

// KeepDMA makes Close leave the memory of the Device's Allocators alone:
// neither unmapped from the IOMMU nor munmapped, so it stays this process's
// until it exits. A driver calls it when it could not stop the device (its
// reset failed): the device may still write that memory, which must then
// never be reused. Closing the device fd and container afterwards lets the
// kernel (vfio-pci) disable and reset the device before it drops the IOMMU
// mappings.
func (d *Device) KeepDMA() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keepDMA = true
}

// adopt makes the Device run f at Close, after its own fd is closed.
func (d *Device) adopt(f func() error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.owned = append(d.owned, f)
}

// Close releases, in order: allocations made through the Device's
// Allocators (IOMMU unmap, munmap; skipped after KeepDMA), IRQs (detached, their eventfds closed),
// BAR mappings, the device fd, and the group and container that Open opened.
// It is idempotent and returns the first error.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	allocs := d.allocs
	if d.keepDMA {
		allocs = nil
	}
	irqs := make([]*IRQ, 0, len(d.irqs))
	for q := range d.irqs {
		irqs = append(irqs, q)
	}
	var active []int
	for idx := range d.active {
		active = append(active, idx)
	}
	d.mu.Unlock()

	var errs []error
	for _, a := range allocs {
		errs = append(errs, a.Close())
	}
	for _, idx := range active {
		errs = append(errs, d.DisableIRQ(idx))
	}
	for _, q := range irqs {
		errs = append(errs, q.close(false)) // already disabled above
	}

	d.mu.Lock()
	d.closed = true
	for i, m := range d.bars {
		if err := munmap(m); err != nil {
			errs = append(errs, fmt.Errorf("vfio: munmap BAR %d of %s: %w", i, d.Name, err))
		}
	}
	d.bars = nil
	if err := closeFD(d.fd); err != nil {
		errs = append(errs, fmt.Errorf("vfio: close device %s: %w", d.Name, err))
	}
	d.fd = -1
	owned := d.owned
	d.owned = nil
	d.mu.Unlock()
	for _, f := range owned {
		errs = append(errs, f())
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
