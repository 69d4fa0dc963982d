package vfio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/pci"
)

// Options configures Open. The zero value (or nil) uses /sys, /dev/vfio and
// /dev/iommu, and picks the API with SelectAPI.
type Options struct {
	// Sysfs is the sysfs tree to inspect; zero means /sys.
	Sysfs pci.Sysfs
	// DevDir is the VFIO device directory; empty means DefaultDevDir.
	DevDir string
	// API picks group/container or iommufd/cdev; the zero value, APIAuto,
	// takes cdev where /dev/iommu and the device's cdev exist.
	API API
	// IOMMUDev is iommufd's device; empty means DefaultIOMMUDev.
	IOMMUDev string
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.DevDir == "" {
		d.DevDir = DefaultDevDir
	}
	if d.IOMMUDev == "" {
		d.IOMMUDev = DefaultIOMMUDev
	}
	return d
}

// Open opens a PCI device bound to vfio-pci and returns it ready for use,
// through the API opts.API names (APIAuto: SelectAPI decides).
//
// APIGroup: the device's group joins a new container whose IOMMU is
// type1v2; the Device owns the group and the container. It checks every
// step and wraps, in this order: ErrBadAddress (pci), ErrNoVFIO,
// pci.ErrNoDevice, ErrNotBound, ErrNoIOMMUGroup, ErrPermission /
// ErrGroupBusy, ErrGroupNotViable, ErrUnsupported, ErrNoInterruptRemapping.
//
// APICdev: a new iommufd IOAS; the device cdev is bound to the iommufd and
// attached to the IOAS; the Device owns the IOMMUFD. It wraps, in this
// order: ErrBadAddress (pci), ErrNoIOMMUFD, pci.ErrNoDevice, ErrNotBound,
// ErrNoCdev, ErrPermission.
func Open(bdf string, opts *Options) (*Device, error) {
	o := opts.withDefaults()
	dir := o.DevDir
	s := o.Sysfs
	a, err := pci.ParseAddr(bdf)
	if err != nil {
		return nil, fmt.Errorf("vfio: open: %w", err)
	}
	api := o.API
	if api == APIAuto {
		if api, _, err = SelectAPI(bdf, &o); err != nil {
			return nil, err
		}
	}
	switch api {
	case APICdev:
		return openCdev(a, o)
	case APIGroup:
	default:
		return nil, fmt.Errorf("%w: %v", ErrUnknownAPI, api)
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
// Device came from a Group that had none, or through its cdev).
func (d *Device) Container() *Container { return d.container }

// IOMMUFD returns the iommufd whose IOAS the device is attached to (nil on
// the group path).
func (d *Device) IOMMUFD() *IOMMUFD { return d.iommufd }

// API returns how the device was opened: APIGroup or APICdev.
func (d *Device) API() API {
	if d.iommufd != nil {
		return APICdev
	}
	return APIGroup
}

// Allocator returns a DMA allocator over the device's container, owned by
// the Device: Close closes its regions. With opts.Ranges nil it asks the
// IOMMU for the usable IOVA ranges.
func (d *Device) Allocator(opts AllocatorOptions) (*Allocator, error) {
	var m Mapper
	switch {
	case d.iommufd != nil:
		if opts.Ranges == nil {
			r, err := d.iommufd.IOVARanges()
			if err != nil {
				return nil, err
			}
			opts.Ranges = r
		}
		m = d.iommufd
	case d.container != nil:
		if opts.Ranges == nil {
			info, err := d.container.IOMMUInfo()
			if err != nil {
				return nil, err
			}
			opts.Ranges = info.Ranges
		}
		m = d.container
	default:
		return nil, fmt.Errorf("vfio: allocator for %s: device has no container", d.Name)
	}
	a := NewAllocator(m, opts)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	d.allocs = append(d.allocs, a)
	return a, nil
}
