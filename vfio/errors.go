package vfio

import (
	"errors"
	"fmt"
	"strings"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/pci"
)

// Sentinel errors. Each error returned for them also says what to do and
// names the paths involved; test with errors.Is.
var (
	// ErrNoVFIO: /dev/vfio/vfio is missing, the VFIO modules are not loaded.
	ErrNoVFIO = errors.New("vfio: /dev/vfio/vfio missing (VFIO modules not loaded)")
	// ErrNotBound: the device is not bound to vfio-pci.
	ErrNotBound = errors.New("vfio: device not bound to vfio-pci")
	// ErrNoIOMMUGroup: the device has no IOMMU group, the IOMMU is off.
	ErrNoIOMMUGroup = errors.New("vfio: device has no IOMMU group (IOMMU disabled)")
	// ErrGroupNotViable: another device of the IOMMU group is bound to a host driver.
	ErrGroupNotViable = errors.New("vfio: IOMMU group not viable")
	// ErrNoInterruptRemapping: VFIO_SET_IOMMU failed with EPERM.
	ErrNoInterruptRemapping = errors.New("vfio: no interrupt remapping (VFIO_SET_IOMMU: EPERM)")
	// ErrPermission: /dev/vfio/N (or /dev/vfio/vfio) cannot be opened by this user.
	ErrPermission = errors.New("vfio: permission denied")
	// ErrGroupBusy: another process (or fd) holds the group open.
	ErrGroupBusy = errors.New("vfio: IOMMU group busy (open elsewhere)")
	// ErrMemlock: VFIO_IOMMU_MAP_DMA hit RLIMIT_MEMLOCK.
	ErrMemlock = errors.New("vfio: RLIMIT_MEMLOCK too low for DMA mapping")
	// ErrUnsupported: the kernel lacks the API version or the type1v2 IOMMU.
	ErrUnsupported = errors.New("vfio: unsupported by this kernel")
	// ErrClosed: the object was closed.
	ErrClosed = errors.New("vfio: closed")
	// ErrBusy: another goroutine is already waiting on this IRQ.
	ErrBusy = errors.New("vfio: IRQ already has a waiter")
	// ErrNoHugepages: MAP_HUGETLB failed, no hugepages are reserved.
	ErrNoHugepages = errors.New("vfio: no free hugepages")
	// ErrIOVAExhausted: the allocator ran out of IOVA space.
	ErrIOVAExhausted = errors.New("vfio: IOVA space exhausted")
	// ErrNoIOMMUFD: /dev/iommu is missing, the kernel lacks iommufd (APICdev).
	ErrNoIOMMUFD = errors.New("vfio: /dev/iommu missing (kernel without iommufd)")
	// ErrNoCdev: the device has no VFIO cdev, /dev/vfio/devices/vfioN (APICdev).
	ErrNoCdev = errors.New("vfio: device has no VFIO cdev")
)

func errNoVFIO(path string, err error) error {
	return fmt.Errorf("%w: open %s: %w; load the modules: modprobe vfio-pci vfio_iommu_type1",
		ErrNoVFIO, path, err)
}

func errNotBound(s pci.Sysfs, a pci.Addr, cur string) error {
	if cur == "" {
		cur = "no driver"
	}
	return fmt.Errorf("%w: %s is bound to %s; bind it: echo vfio-pci > %s/driver_override; echo %s > %s/bus/pci/drivers_probe (with %s/unbind first if a driver holds it)",
		ErrNotBound, a, cur, s.DevicePath(a), a, sysRoot(s), s.DevicePath(a)+"/driver")
}

func sysRoot(s pci.Sysfs) string {
	if s.Root == "" {
		return pci.DefaultRoot
	}
	return s.Root
}

func errNoGroup(a pci.Addr, err error) error {
	return fmt.Errorf("%w: %s: %w; enable the IOMMU: boot with intel_iommu=on (or amd_iommu=on), in QEMU add -device intel-iommu,intremap=on",
		ErrNoIOMMUGroup, a, err)
}

// errNotViable names the devices of the group that keep it from being viable:
// every device of a group must be bound to vfio-pci (or to no driver).
func errNotViable(s pci.Sysfs, group int, self pci.Addr) error {
	var others []string
	addrs, _ := s.GroupDevices(group)
	for _, a := range addrs {
		if a == self {
			continue
		}
		drv, _ := s.CurrentDriver(a)
		if drv == "" || drv == "vfio-pci" || drv == "pcieport" {
			continue
		}
		others = append(others, fmt.Sprintf("%s (bound to %s)", a, drv))
	}
	if len(others) == 0 {
		others = append(others, "none found bound to a host driver")
	}
	return fmt.Errorf("%w: group %d (%s/devices) also holds %s; bind every device of the group to vfio-pci or unbind it",
		ErrGroupNotViable, group, s.IOMMUGroupPath(group), strings.Join(others, ", "))
}

// errOpenGroup maps errors of open(/dev/vfio/N).
func errOpenGroup(path string, err error) error {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: open %s: %w; run as root or give this user the file (chown, or a udev rule for vfio)",
			ErrPermission, path, err)
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("%w: open %s: %w; close the other user of the group (another process, or a Group not yet closed)",
			ErrGroupBusy, path, err)
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w: open %s: %w; the group file appears when a device of the group is bound to vfio-pci",
			ErrNotBound, path, err)
	}
	return fmt.Errorf("vfio: open group %s: %w", path, err)
}

// errSetIOMMU maps errors of VFIO_SET_IOMMU.
func errSetIOMMU(typ int, err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: set IOMMU type %d: %w; the IOMMU lacks interrupt remapping: enable it (intel_iommu=on with intremap, QEMU -device intel-iommu,intremap=on) or, unsafely, load vfio_iommu_type1 with allow_unsafe_interrupts=1 (/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts)",
			ErrNoInterruptRemapping, typ, err)
	}
	return fmt.Errorf("vfio: set IOMMU type %d: %w", typ, err)
}

// errMapDMA maps errors of VFIO_IOMMU_MAP_DMA. The kernel returns ENOMEM
// when pinning the pages would exceed RLIMIT_MEMLOCK.
func errMapDMA(iova, size uint64, err error) error {
	if errors.Is(err, unix.ENOMEM) {
		cur, _, lerr := getrlimitMemlock()
		limit := "unknown"
		if lerr == nil {
			if cur == unix.RLIM_INFINITY {
				limit = "unlimited"
			} else {
				limit = fmt.Sprintf("%d bytes", cur)
			}
		}
		return fmt.Errorf("%w: map %d bytes at IOVA %#x: %w; RLIMIT_MEMLOCK is %s: raise it (ulimit -l, /etc/security/limits.conf, systemd LimitMEMLOCK=) or run with CAP_IPC_LOCK",
			ErrMemlock, size, iova, err, limit)
	}
	return fmt.Errorf("vfio: map DMA %d bytes at IOVA %#x: %w", size, iova, err)
}

func errHugepages(size int, err error) error {
	return fmt.Errorf("%w: mmap %d bytes with MAP_HUGETLB: %w; reserve some: echo 64 > /proc/sys/vm/nr_hugepages (see /sys/kernel/mm/hugepages/)",
		ErrNoHugepages, size, err)
}
