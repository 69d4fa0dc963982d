package driver

import (
	"errors"
	"fmt"
	"strings"
)

// Backend and VFIOAPI say how a family's Open reaches its device (package
// bus does the reaching); they are plain values here so that OpenOptions
// stays family- and bus-neutral and the core imports no bus package.

// Backend is how the device is reached from userspace.
type Backend int

const (
	// BackendVFIO: vfio-pci, IOMMU-protected DMA at IOVAs; INTx, MSI, MSI-X.
	BackendVFIO Backend = iota
	// BackendUIO: uio_pci_generic, DMA at physical addresses from hugepages
	// (no IOMMU protection, root only); INTx only.
	BackendUIO
)

func (b Backend) String() string {
	switch b {
	case BackendVFIO:
		return "vfio"
	case BackendUIO:
		return "uio"
	}
	return fmt.Sprintf("Backend(%d)", int(b))
}

// ErrUnknownBackend is returned by ParseBackend.
var ErrUnknownBackend = errors.New("unknown backend")

// ParseBackend parses "vfio" or "uio".
func ParseBackend(s string) (Backend, error) {
	switch strings.ToLower(s) {
	case "vfio", "vfio-pci":
		return BackendVFIO, nil
	case "uio", "uio_pci_generic":
		return BackendUIO, nil
	}
	return 0, fmt.Errorf("%w %q: use vfio or uio", ErrUnknownBackend, s)
}

// Driver is the kernel driver a backend needs the device bound to.
func (b Backend) Driver() string {
	if b == BackendUIO {
		return "uio_pci_generic"
	}
	return "vfio-pci"
}

// VFIOAPI picks the VFIO interface of BackendVFIO: VFIOAuto (the zero
// value: the cdev where /dev/iommu and the device's cdev exist, else the
// group), VFIOGroup (container and group) or VFIOCdev (iommufd and the
// device cdev). Its values are vfio.API's, which package bus converts to.
type VFIOAPI int

const (
	VFIOAuto VFIOAPI = iota
	VFIOGroup
	VFIOCdev
)

func (a VFIOAPI) String() string {
	switch a {
	case VFIOAuto:
		return "auto"
	case VFIOGroup:
		return "group"
	case VFIOCdev:
		return "cdev"
	}
	return fmt.Sprintf("VFIOAPI(%d)", int(a))
}
