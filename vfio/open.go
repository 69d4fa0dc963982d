package vfio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/pci"
)

// Options configures Open. The zero value (or nil) uses /sys and /dev/vfio.
type Options struct {
	// Sysfs is the sysfs tree to inspect; zero means /sys.
	Sysfs pci.Sysfs
	// DevDir is the VFIO device directory; empty means DefaultDevDir.
	DevDir string
}

// Open opens a PCI device bound to vfio-pci in a container of its own and
// returns it ready for use: the device's group has joined a new container
// whose IOMMU is type1v2. The Device owns the group and the container.
//
// It checks every step and wraps, in this order: ErrBadAddress (pci),
// ErrNoVFIO, pci.ErrNoDevice, ErrNotBound, ErrNoIOMMUGroup, ErrPermission /
// ErrGroupBusy, ErrGroupNotViable, ErrUnsupported, ErrNoInterruptRemapping.
func Open(bdf string, opts *Options) (*Device, error) {
	if opts == nil {
		opts = &Options{}
	}
	dir := opts.DevDir
	if dir == "" {
		dir = DefaultDevDir
	}
	s := opts.Sysfs
	a, err := pci.ParseAddr(bdf)
	if err != nil {
		return nil, fmt.Errorf("vfio: open: %w", err)
	}
	cpath := dir + "/vfio"
	if _, err := os.Stat(cpath); errors.Is(err, fs.ErrNotExist) {
		return nil, errNoVFIO(cpath, unix.ENOENT)
	}
	dev, err := s.Lookup(a)
	if err != nil {
		return nil, fmt.Errorf("vfio: open: %w", err)
	}
	if dev.Driver != "vfio-pci" {
		return nil, errNotBound(s, a, dev.Driver)
	}
	group, err := s.IOMMUGroup(a)
	if err != nil {
		return nil, errNoGroup(a, err)
	}

	c, err := openContainer(cpath)
	if err != nil {
		return nil, err
	}
	ok, err := c.CheckExtension(Type1v2IOMMU)
	if err != nil || !ok {
		c.Close()
		return nil, fmt.Errorf("%w: %s lacks the type1v2 IOMMU (is vfio_iommu_type1 loaded? modprobe vfio_iommu_type1): %v",
			ErrUnsupported, cpath, err)
	}
	g, err := openGroup(dir, group)
	if err != nil {
		c.Close()
		return nil, err
	}
	fail := func(err error) (*Device, error) {
		g.Close()
		c.Close()
		return nil, err
	}
	st, err := g.Status()
	if err != nil {
		return fail(err)
	}
	if !st.Viable {
		return fail(errNotViable(s, group, a))
	}
	if err := g.SetContainer(c); err != nil {
		return fail(err)
	}
	if err := c.SetIOMMU(Type1v2IOMMU); err != nil {
		return fail(err)
	}
	d, err := g.OpenDevice(a.String())
	if err != nil {
		return fail(err)
	}
	d.adopt(g.Close)
	d.adopt(c.Close)
	return d, nil
}

// Container returns the container the device's group joined (nil if the
// Device came from a Group that had none).
func (d *Device) Container() *Container { return d.container }

// Allocator returns a DMA allocator over the device's container, owned by
// the Device: Close closes its regions. With opts.Ranges nil it asks the
// IOMMU for the usable IOVA ranges.
func (d *Device) Allocator(opts AllocatorOptions) (*Allocator, error) {
	c := d.container
	if c == nil {
		return nil, fmt.Errorf("vfio: allocator for %s: device has no container", d.Name)
	}
	if opts.Ranges == nil {
		info, err := c.IOMMUInfo()
		if err != nil {
			return nil, err
		}
		opts.Ranges = info.Ranges
	}
	a := NewAllocator(c, opts)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	d.allocs = append(d.allocs, a)
	return a, nil
}
