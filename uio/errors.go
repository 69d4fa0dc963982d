package uio

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/uiodrv/uiodrv/pci"
)

// Sentinel errors; the errors wrapping them say what to do.
var (
	// ErrNotBound: the device is not bound to uio_pci_generic.
	ErrNotBound = errors.New("uio: device not bound to uio_pci_generic")
	// ErrNoHugepages: no free 2 MiB hugepages are reserved.
	ErrNoHugepages = errors.New("uio: no free hugepages")
	// ErrNoPhysAddr: /proc/self/pagemap gave no frame number (not root, or the page is absent).
	ErrNoPhysAddr = errors.New("uio: no physical address from /proc/self/pagemap")
	// ErrNotContiguous: hugepages of a multi-page allocation are not
	// physically contiguous. Allocator.Alloc no longer returns it (it hands
	// out a segmented region instead); kept for callers that match it.
	ErrNotContiguous = errors.New("uio: hugepages not physically contiguous")
	// ErrClosed: the object was closed.
	ErrClosed = errors.New("uio: closed")
	// ErrBusy: another goroutine is already waiting on the IRQ.
	ErrBusy = errors.New("uio: IRQ already has a waiter")
)

func errNotBound(s pci.Sysfs, a pci.Addr, cur string) error {
	if cur == "" {
		cur = "no driver"
	}
	return fmt.Errorf("%w: %s is bound to %s; bind it: modprobe uio_pci_generic; echo uio_pci_generic > %s/driver_override; echo %s > /sys/bus/pci/drivers_probe (unbind the current driver first through %s/driver/unbind)",
		ErrNotBound, a, cur, s.DevicePath(a), a, s.DevicePath(a))
}

// nrHugepagesPath is where the hugepage pool size is read for error messages.
var nrHugepagesPath = "/proc/sys/vm/nr_hugepages"

func errHugepages(n int, err error) error {
	reserved := "unknown"
	if b, rerr := os.ReadFile(nrHugepagesPath); rerr == nil {
		reserved = strings.TrimSpace(string(b))
	}
	return fmt.Errorf("%w: mmap %d bytes with MAP_HUGETLB: %w; %s hugepages reserved in %s: reserve more (echo 64 > %s)",
		ErrNoHugepages, n, err, reserved, nrHugepagesPath, nrHugepagesPath)
}
