package vfio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// DefaultDevDir is where the VFIO character devices live.
const DefaultDevDir = "/dev/vfio"

// Container is an open /dev/vfio/vfio: one IOMMU context that groups join.
// Its methods are safe for concurrent use.
type Container struct {
	mu     sync.Mutex // guards fd against Close; ioctls themselves are kernel-serialised
	fd     int        // owned; -1 after Close
	typ    int        // IOMMU type set by SetIOMMU, 0 before
	path   string
	closed bool
	space  *iovaSpace // IOVAs handed out by this container's Allocators
}

// OpenContainer opens /dev/vfio/vfio and checks the API version.
func OpenContainer() (*Container, error) { return openContainer(DefaultDevDir + "/vfio") }

func openContainer(path string) (*Container, error) {
	fd, err := open(path, unix.O_RDWR)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errNoVFIO(path, err)
		}
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("%w: open %s: %w", ErrPermission, path, err)
		}
		return nil, fmt.Errorf("vfio: open container %s: %w", path, err)
	}
	c := &Container{fd: fd, path: path}
	v, err := ioctlVal(fd, ioctlGetAPIVersion, 0)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("vfio: get API version of %s: %w", path, err)
	}
	if v != APIVersion {
		c.Close()
		return nil, fmt.Errorf("%w: %s speaks VFIO API version %d, want %d", ErrUnsupported, path, v, APIVersion)
	}
	return c, nil
}

// with runs f with the fd unless the container is closed.
func (c *Container) with(f func(fd int) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return f(c.fd)
}

// CheckExtension reports whether the kernel supports an extension such as Type1v2IOMMU.
func (c *Container) CheckExtension(ext int) (bool, error) {
	var ok bool
	err := c.with(func(fd int) error {
		r, err := ioctlVal(fd, ioctlCheckExtension, uintptr(ext))
		if err != nil {
			return fmt.Errorf("vfio: check extension %d: %w", ext, err)
		}
		ok = r > 0
		return nil
	})
	return ok, err
}

// SetIOMMU selects the IOMMU model (Type1v2IOMMU). At least one group must
// have joined the container first. It wraps ErrNoInterruptRemapping on EPERM.
func (c *Container) SetIOMMU(typ int) error {
	return c.with(func(fd int) error {
		if _, err := ioctlVal(fd, ioctlSetIOMMU, uintptr(typ)); err != nil {
			return errSetIOMMU(typ, err)
		}
		c.typ = typ
		return nil
	})
}

// IOVARange is an inclusive range of usable IOVAs.
type IOVARange struct {
	Start, End uint64 // inclusive
}

// IOMMUInfo is what VFIO_IOMMU_GET_INFO reports.
type IOMMUInfo struct {
	// PageSizes is a bitmap of the IOMMU's page sizes (bit n set: 2^n bytes).
	PageSizes uint64
	// Ranges are the usable IOVA ranges; nil if the kernel does not report them.
	Ranges []IOVARange
	// DMAAvail is how many more DMA mappings the container allows; -1 if unreported.
	DMAAvail int64
}

// MinPageSize returns the smallest IOMMU page size, 4096 if unreported.
func (i IOMMUInfo) MinPageSize() uint64 {
	if i.PageSizes == 0 {
		return 4096
	}
	return i.PageSizes & -i.PageSizes
}

// IOMMUInfo queries the IOMMU (after SetIOMMU), following the capability
// chain for the IOVA ranges.
func (c *Container) IOMMUInfo() (IOMMUInfo, error) {
	var info IOMMUInfo
	err := c.with(func(fd int) error {
		buf := make([]byte, sizeofIOMMUType1Info)
		for {
			binary.NativeEndian.PutUint32(buf[0:], uint32(len(buf)))
			if _, err := ioctlBuf(fd, ioctlIOMMUGetInfo, buf); err != nil {
				return fmt.Errorf("vfio: get IOMMU info: %w", err)
			}
			need := int(binary.NativeEndian.Uint32(buf[0:]))
			if need <= len(buf) {
				break
			}
			buf = make([]byte, need) // capabilities did not fit: ask again with room
		}
		var err error
		info, err = parseIOMMUInfo(buf)
		return err
	})
	return info, err
}

// parseIOMMUInfo decodes struct vfio_iommu_type1_info and its capability chain.
func parseIOMMUInfo(buf []byte) (IOMMUInfo, error) {
	ne := binary.NativeEndian
	info := IOMMUInfo{DMAAvail: -1}
	if len(buf) < sizeofIOMMUType1Info {
		return info, fmt.Errorf("vfio: IOMMU info: %d bytes, want %d", len(buf), sizeofIOMMUType1Info)
	}
	flags := ne.Uint32(buf[4:])
	if flags&iommuInfoPgsizes != 0 {
		info.PageSizes = ne.Uint64(buf[8:])
	}
	if flags&iommuInfoCaps == 0 {
		return info, nil
	}
	off := ne.Uint32(buf[16:])
	for hops := 0; off != 0; hops++ {
		if hops > 64 || int(off)+sizeofInfoCapHeader > len(buf) {
			return info, fmt.Errorf("vfio: IOMMU info: capability at %d outside %d bytes", off, len(buf))
		}
		id, next := ne.Uint16(buf[off:]), ne.Uint32(buf[off+4:])
		switch id {
		case iommuCapIOVARange:
			if int(off)+sizeofIOVARangeCapHead > len(buf) {
				return info, fmt.Errorf("vfio: IOMMU info: short IOVA range capability")
			}
			n := int(ne.Uint32(buf[off+8:]))
			p := int(off) + sizeofIOVARangeCapHead
			if p+n*sizeofIOVARange > len(buf) {
				return info, fmt.Errorf("vfio: IOMMU info: %d IOVA ranges overrun %d bytes", n, len(buf))
			}
			info.Ranges = make([]IOVARange, n)
			for i := range info.Ranges {
				info.Ranges[i] = IOVARange{ne.Uint64(buf[p:]), ne.Uint64(buf[p+8:])}
				p += sizeofIOVARange
			}
		case iommuCapDMAAvail:
			if int(off)+12 <= len(buf) {
				info.DMAAvail = int64(ne.Uint32(buf[off+8:]))
			}
		}
		off = next
	}
	return info, nil
}

// MapDMA maps mem (mmapped memory, not Go heap) for device reads and writes
// at iova. It wraps ErrMemlock when RLIMIT_MEMLOCK is too low.
func (c *Container) MapDMA(mem []byte, iova uint64) error {
	if len(mem) == 0 {
		return fmt.Errorf("vfio: map DMA at IOVA %#x: empty buffer", iova)
	}
	return c.with(func(fd int) error {
		m := dmaMap{
			Flags: dmaMapFlagRead | dmaMapFlagWrite,
			Vaddr: addrOf(mem),
			IOVA:  iova,
			Size:  uint64(len(mem)),
		}
		m.Argsz = uint32(sizeofDMAMap)
		if _, err := ioctlPtr(fd, ioctlIOMMUMapDMA, &m); err != nil {
			return errMapDMA(iova, m.Size, err)
		}
		return nil
	})
}

// UnmapDMA removes the mapping at [iova, iova+size).
func (c *Container) UnmapDMA(iova, size uint64) error {
	return c.with(func(fd int) error {
		u := dmaUnmap{Argsz: sizeofDMAUnmap, IOVA: iova, Size: size}
		if _, err := ioctlPtr(fd, ioctlIOMMUUnmapDMA, &u); err != nil {
			return fmt.Errorf("vfio: unmap DMA %d bytes at IOVA %#x: %w", size, iova, err)
		}
		if u.Size != size {
			return fmt.Errorf("vfio: unmap DMA at IOVA %#x: unmapped %d bytes, want %d", iova, u.Size, size)
		}
		return nil
	})
}

// sharedSpace returns the IOVA space every Allocator of this container draws from.
func (c *Container) sharedSpace(opts AllocatorOptions) *iovaSpace {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.space == nil {
		c.space = newIOVASpace(opts)
	}
	return c.space
}

// Fd returns the container fd, owned by the Container.
func (c *Container) Fd() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fd
}

// Close closes the container; the kernel drops its DMA mappings. Groups
// must be closed (or unset) first. Close is idempotent.
func (c *Container) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	err := closeFD(c.fd)
	c.fd = -1
	if err != nil {
		return fmt.Errorf("vfio: close container: %w", err)
	}
	return nil
}

// Sizes of the fixed structs, checked against linux/vfio.h by tests.
const (
	sizeofDMAMap   = 32
	sizeofDMAUnmap = 24
)
