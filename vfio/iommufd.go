package vfio

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// DefaultIOMMUDev is iommufd's character device (Linux 6.2 and later,
// CONFIG_IOMMUFD).
const DefaultIOMMUDev = "/dev/iommu"

// IOMMUFD is an open /dev/iommu with one I/O address space (IOAS): the
// iommufd counterpart of a Container. Devices opened through their cdev
// attach to its IOAS; MapDMA and UnmapDMA change that IOAS. Its methods are
// safe for concurrent use.
type IOMMUFD struct {
	mu     sync.Mutex // guards fd against Close; ioctls themselves are kernel-serialised
	fd     int        // owned; -1 after Close
	ioas   uint32     // the IOAS object ID, destroyed with the fd
	path   string
	closed bool
	space  *iovaSpace // IOVAs handed out by this IOAS's Allocators
}

var _ Mapper = (*IOMMUFD)(nil)

// OpenIOMMUFD opens /dev/iommu and allocates an IOAS.
func OpenIOMMUFD() (*IOMMUFD, error) { return openIOMMUFD(DefaultIOMMUDev) }

func openIOMMUFD(path string) (*IOMMUFD, error) {
	fd, err := open(path, unix.O_RDWR)
	if err != nil {
		return nil, errOpenIOMMU(path, err)
	}
	i := &IOMMUFD{fd: fd, path: path}
	a := ioasAlloc{Size: sizeofIOASAlloc}
	if _, err := ioctlPtr(fd, ioctlIOMMUIOASAlloc, &a); err != nil {
		i.Close()
		return nil, fmt.Errorf("vfio: allocate IOAS on %s: %w", path, err)
	}
	i.ioas = a.OutIOASID
	return i, nil
}

func (i *IOMMUFD) with(f func(fd int) error) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return ErrClosed
	}
	return f(i.fd)
}

// Fd returns the iommufd, owned by the IOMMUFD.
func (i *IOMMUFD) Fd() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fd
}

// IOAS returns the ID of the IOAS devices attach to.
func (i *IOMMUFD) IOAS() uint32 { return i.ioas }

// IOVARanges returns the IOVA ranges the IOAS accepts now: the IOMMU's
// aperture minus reserved windows (the MSI window) of the attached devices.
// Ask after attaching a device, or the answer ignores its reservations.
func (i *IOMMUFD) IOVARanges() ([]IOVARange, error) {
	var out []IOVARange
	err := i.with(func(fd int) error {
		n := 4
		for {
			buf := make([]uint64, 2*n) // struct iommu_iova_range {start, last}
			q := ioasIOVARanges{Size: sizeofIOASIOVARanges, IOASID: i.ioas, NumIOVAs: uint32(n), AllowedIOVAs: addrOfRanges(buf)}
			_, err := ioctlPtr(fd, ioctlIOMMUIOASIOVARanges, &q)
			runtime.KeepAlive(buf) // the kernel wrote it through a bare address
			if errors.Is(err, unix.EMSGSIZE) && int(q.NumIOVAs) > n && q.NumIOVAs < 1<<16 {
				n = int(q.NumIOVAs) // the array was too small: the kernel said how many
				continue
			}
			if err != nil {
				return fmt.Errorf("vfio: IOVA ranges of IOAS %d: %w", i.ioas, err)
			}
			for k := 0; k < int(q.NumIOVAs) && k < n; k++ {
				out = append(out, IOVARange{Start: buf[2*k], End: buf[2*k+1]})
			}
			return nil
		}
	})
	return out, err
}

// MapDMA maps mem (mmapped memory, not Go heap) for device reads and writes
// at exactly iova (IOMMU_IOAS_MAP with FIXED_IOVA). It wraps ErrMemlock when
// RLIMIT_MEMLOCK is too low: iommufd charges pinned pages to it as type1 does.
func (i *IOMMUFD) MapDMA(mem []byte, iova uint64) error {
	if len(mem) == 0 {
		return fmt.Errorf("vfio: map DMA at IOVA %#x: empty buffer", iova)
	}
	return i.with(func(fd int) error {
		m := ioasMap{
			Size:   sizeofIOASMap,
			Flags:  ioasMapFixedIOVA | ioasMapReadable | ioasMapWriteable,
			IOASID: i.ioas,
			UserVA: addrOf(mem),
			Length: uint64(len(mem)),
			IOVA:   iova,
		}
		if _, err := ioctlPtr(fd, ioctlIOMMUIOASMap, &m); err != nil {
			return errMapDMA(iova, m.Length, err)
		}
		return nil
	})
}

// UnmapDMA removes the mapping at [iova, iova+size).
func (i *IOMMUFD) UnmapDMA(iova, size uint64) error {
	return i.with(func(fd int) error {
		u := ioasUnmap{Size: sizeofIOASUnmap, IOASID: i.ioas, IOVA: iova, Length: size}
		if _, err := ioctlPtr(fd, ioctlIOMMUIOASUnmap, &u); err != nil {
			return fmt.Errorf("vfio: unmap DMA %d bytes at IOVA %#x from IOAS %d: %w", size, iova, i.ioas, err)
		}
		if u.Length != size {
			return fmt.Errorf("vfio: unmap DMA at IOVA %#x: unmapped %d bytes, want %d", iova, u.Length, size)
		}
		return nil
	})
}

// sharedSpace returns the IOVA space every Allocator of this IOAS draws from.
func (i *IOMMUFD) sharedSpace(opts AllocatorOptions) *iovaSpace {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.space == nil {
		i.space = newIOVASpace(opts)
	}
	return i.space
}

// Close closes the iommufd; the kernel destroys the IOAS and drops its
// mappings. Devices must be closed first (a bound device holds the iommufd's
// context until its fd is closed). Close is idempotent.
func (i *IOMMUFD) Close() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil
	}
	i.closed = true
	err := closeFD(i.fd)
	i.fd = -1
	if err != nil {
		return fmt.Errorf("vfio: close %s: %w", i.path, err)
	}
	return nil
}

// errOpenIOMMU maps errors of open(/dev/iommu).
func errOpenIOMMU(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: open %s: %w; this kernel lacks iommufd (CONFIG_IOMMUFD; no Debian kernel enables it): use --vfio-api group, or a kernel with iommufd (see docs/vfio-api.md)",
			ErrNoIOMMUFD, path, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: open %s: %w; run as root or give this user the file (the kernel makes it 0660 root:root: chgrp it to a group of the user, or a udev rule), beside the device's /dev/vfio/devices/vfioN",
			ErrPermission, path, err)
	}
	return fmt.Errorf("vfio: open %s: %w", path, err)
}
