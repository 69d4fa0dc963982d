package uio

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/mmio"
	"github.com/uiodrv/uiodrv/pci"
)

// Options configures Open. The zero value (or nil) uses /sys and /dev.
type Options struct {
	// Sysfs is the sysfs tree; zero means /sys.
	Sysfs pci.Sysfs
	// DevDir is where uioN device nodes are; empty means /dev.
	DevDir string
}

// Device is a PCI device bound to uio_pci_generic. Its methods are safe for
// concurrent use.
//
// Ownership: the Device owns its BAR mappings, its sysfs config file, its
// IRQ and the Allocators it created (with their regions). Close releases them.
type Device struct {
	Name    string // PCI address, e.g. 0000:00:03.0
	UIOName string // e.g. uio0
	addr    pci.Addr
	sysfs   pci.Sysfs
	devDir  string
	cfg     *pci.Config

	mu     sync.Mutex
	closed bool
	bars   map[int][]byte
	irq    *IRQ
	allocs []*Allocator
	keep   bool // Close leaves the Allocators' hugepages mapped (see KeepDMA)
}

// FindUIO returns the uio device name (e.g. "uio0") of a device bound to
// uio_pci_generic, from /sys/bus/pci/devices/<addr>/uio/.
func FindUIO(s pci.Sysfs, a pci.Addr) (string, error) {
	dir := filepath.Join(s.DevicePath(a), "uio")
	ents, err := os.ReadDir(dir)
	if err != nil {
		drv, _ := s.CurrentDriver(a)
		return "", fmt.Errorf("%w (no %s: %v)", errNotBound(s, a, drv), dir, err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "uio") {
			return e.Name(), nil
		}
	}
	return "", fmt.Errorf("uio: %s has no uioN entry in %s", a, dir)
}

// Open opens a device bound to uio_pci_generic. It wraps pci.ErrBadAddress,
// pci.ErrNoDevice or ErrNotBound when it cannot.
func Open(bdf string, opts *Options) (*Device, error) {
	if opts == nil {
		opts = &Options{}
	}
	a, err := pci.ParseAddr(bdf)
	if err != nil {
		return nil, fmt.Errorf("uio: open: %w", err)
	}
	s := opts.Sysfs
	dev, err := s.Lookup(a)
	if err != nil {
		return nil, fmt.Errorf("uio: open: %w", err)
	}
	if dev.Driver != "uio_pci_generic" {
		return nil, errNotBound(s, a, dev.Driver)
	}
	name, err := FindUIO(s, a)
	if err != nil {
		return nil, err
	}
	cfg, err := s.OpenConfig(a)
	if err != nil {
		return nil, fmt.Errorf("uio: open %s: %w", a, err)
	}
	dir := opts.DevDir
	if dir == "" {
		dir = "/dev"
	}
	return &Device{Name: a.String(), UIOName: name, addr: a, sysfs: s, devDir: dir, cfg: cfg, bars: map[int][]byte{}}, nil
}

// MapBAR mmaps BAR index through /sys/bus/pci/devices/<addr>/resource<index>.
// The mapping is made once, owned by the Device and unmapped by Close.
func (d *Device) MapBAR(index int) ([]byte, error) {
	if index < 0 || index > 5 {
		return nil, fmt.Errorf("uio: map BAR %d of %s: not a BAR index", index, d.Name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if m, ok := d.bars[index]; ok {
		return m, nil
	}
	p := filepath.Join(d.sysfs.DevicePath(d.addr), "resource"+strconv.Itoa(index))
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("uio: map BAR %d of %s: %w (not a memory BAR?)", index, d.Name, err)
	}
	fd, err := open(p, unix.O_RDWR|unix.O_SYNC)
	if err != nil {
		return nil, fmt.Errorf("uio: map BAR %d of %s: open %s: %w", index, d.Name, p, err)
	}
	defer closeFD(fd) // the mapping outlives the fd
	m, err := mmapFile(fd, int(fi.Size()))
	if err != nil {
		return nil, fmt.Errorf("uio: map BAR %d of %s: mmap %s (%d bytes): %w", index, d.Name, p, fi.Size(), err)
	}
	d.bars[index] = m
	return m, nil
}

// BAR maps BAR index and wraps it for register access.
func (d *Device) BAR(index int) (*mmio.BAR, error) {
	m, err := d.MapBAR(index)
	if err != nil {
		return nil, err
	}
	return mmio.NewBAR(m), nil
}

// Config returns the device's configuration space (sysfs config file),
// owned by the Device.
func (d *Device) Config() *pci.Config { return d.cfg }

// EnableBusMaster sets Memory Space and Bus Master Enable: without it the
// device does no DMA.
func (d *Device) EnableBusMaster() error { return d.cfg.EnableBusMaster() }

// MaskINTx sets Interrupt Disable in the command register, whether or not
// the IRQ was opened: the device can no longer assert INTx. Teardown calls it
// before it turns bus mastering off and resets the device.
func (d *Device) MaskINTx() error {
	if err := d.cfg.SetINTxDisabled(true); err != nil {
		return fmt.Errorf("uio: mask INTx of %s: %w", d.Name, err)
	}
	return nil
}

// KeepDMA makes Close leave the Allocators' hugepages mapped and locked, so
// they stay this process's until it exits and are never reused while the
// device may still write them. A driver calls it when it could not stop the
// device (its reset failed): without an IOMMU nothing else stops a late
// write.
func (d *Device) KeepDMA() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keep = true
}

// IRQ opens /dev/uioN and returns the device's interrupt, unmasked. It is
// created once and owned by the Device.
func (d *Device) IRQ() (*IRQ, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if d.irq != nil && !d.irq.Closed() {
		return d.irq, nil
	}
	// The count at open: /dev/uioN reads return the cumulative count, and
	// Wait reports the difference from the previous one.
	var start uint32
	ev := filepath.Join(d.sysfs.DevicePath(d.addr), "uio", d.UIOName, "event")
	if b, err := os.ReadFile(ev); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			start = uint32(v)
		}
	}
	q, err := newIRQ(filepath.Join(d.devDir, d.UIOName), start, d.cfg)
	if err != nil {
		return nil, err
	}
	if err := q.Unmask(); err != nil {
		q.Close()
		return nil, err
	}
	d.irq = q
	return q, nil
}

// Allocator returns a hugepage DMA allocator owned by the Device: Close
// closes its regions.
func (d *Device) Allocator() (*Allocator, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	a := NewAllocator()
	d.allocs = append(d.allocs, a)
	return a, nil
}

// Close releases the Allocators' regions (unless KeepDMA was called), the
// IRQ, the BAR mappings and the config file. It is idempotent and returns the errors joined.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	allocs, irq, bars := d.allocs, d.irq, d.bars
	if d.keep {
		allocs = nil
	}
	d.allocs, d.irq, d.bars = nil, nil, nil
	d.mu.Unlock()

	var errs []error
	for _, a := range allocs {
		errs = append(errs, a.Close())
	}
	if irq != nil {
		errs = append(errs, irq.Close())
	}
	for i, m := range bars {
		if err := munmap(m); err != nil {
			errs = append(errs, fmt.Errorf("uio: munmap BAR %d of %s: %w", i, d.Name, err))
		}
	}
	errs = append(errs, d.cfg.Close())
	return errors.Join(errs...)
}
