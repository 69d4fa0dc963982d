package bus

import (
	"github.com/uiodrv/uiodrv/pci"
	"github.com/uiodrv/uiodrv/uio"
	"github.com/uiodrv/uiodrv/vfio"
)

// The sentinel errors of sysfs PCI and of the two backends, for callers that
// branch on them (a front end that names the fix): the same values the
// packages behind the bus wrap, so errors.Is matches either name. Where
// both backends have one, the name says which.
var (
	// Sysfs PCI.
	ErrBadAddress       = pci.ErrBadAddress     // not a PCI address
	ErrNoDevice         = pci.ErrNoDevice       // no such device under /sys/bus/pci/devices
	ErrNoDriver         = pci.ErrNoDriver       // the driver's module is not loaded
	ErrBindFailed       = pci.ErrBindFailed     // the driver did not take the device
	ErrRestoreFailed    = pci.ErrRestoreFailed  // the previous driver was not given the device back
	ErrBadRecord        = pci.ErrBadRecord      // a binding record that cannot be trusted
	ErrUnsafeStateDir   = pci.ErrUnsafeStateDir // a record folder others may write
	ErrNoIOMMUGroupLink = pci.ErrNoIOMMUGroup   // sysfs has no iommu_group link for the device
	ErrBadDriverName    = pci.ErrBadDriverName  // a driver name a path could be built from
	ErrNoCapability     = pci.ErrNoCapability   // the capability is not in the list

	// VFIO.
	ErrNoVFIO               = vfio.ErrNoVFIO               // VFIO modules not loaded
	ErrVFIONotBound         = vfio.ErrNotBound             // not bound to vfio-pci
	ErrNoIOMMUGroup         = vfio.ErrNoIOMMUGroup         // IOMMU off: the device has no group
	ErrGroupNotViable       = vfio.ErrGroupNotViable       // another device of the group is on a host driver
	ErrNoInterruptRemapping = vfio.ErrNoInterruptRemapping // VFIO_SET_IOMMU refused (EPERM)
	ErrPermission           = vfio.ErrPermission           // no permission on a VFIO node
	ErrGroupBusy            = vfio.ErrGroupBusy            // the group is open elsewhere
	ErrMemlock              = vfio.ErrMemlock              // RLIMIT_MEMLOCK too low for DMA mapping
	ErrVFIONoHugepages      = vfio.ErrNoHugepages          // no free hugepages for DMA memory
	ErrUnsupported          = vfio.ErrUnsupported          // e.g. a device without reset (Reset)
	ErrNoIOMMUFD            = vfio.ErrNoIOMMUFD            // /dev/iommu missing
	ErrNoCdev               = vfio.ErrNoCdev               // the device has no VFIO cdev

	// UIO.
	ErrUIONotBound    = uio.ErrNotBound    // not bound to uio_pci_generic
	ErrUIONoHugepages = uio.ErrNoHugepages // no free 2 MiB hugepages
	ErrNoPhysAddr     = uio.ErrNoPhysAddr  // /proc/self/pagemap gave no frame (not root)
)

// HugePageSize is the size of the hugepages UIO's DMA memory comes in.
const HugePageSize = uio.HugePageSize
