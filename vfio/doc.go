// Package vfio drives a PCI device from userspace through Linux VFIO.
//
// The usual way in is Open, which checks the setup step by step (modules
// loaded, device bound to vfio-pci, IOMMU group present and viable, interrupt
// remapping available) and returns a Device that owns its container, group
// and device fds:
//
//	d, err := vfio.Open("0000:00:03.0", nil)
//	bar0, err := d.BAR(0)            // *mmio.BAR over the mmapped BAR
//	err = d.EnableBusMaster()        // vfio-pci leaves bus mastering off
//	alloc, err := d.Allocator(vfio.AllocatorOptions{})
//	ring, err := alloc.Alloc(4096)   // *dma.Region: Bytes() for the CPU, Addr() for the NIC
//	irq, err := d.EnableINTx()       // or EnableMSIX(n)
//	n, err := irq.Wait(ctx)          // blocks until the interrupt fires
//	err = irq.Unmask()               // INTx is automasked by vfio-pci
//
// The pieces (Container, Group, Device) are exported too, for setups with
// several devices in one container.
//
// Open reaches the device through one of two kernel interfaces (Options.API):
// the group/container API (/dev/vfio/vfio and /dev/vfio/N, every kernel) or
// iommufd with the device cdev (/dev/iommu and /dev/vfio/devices/vfioN,
// Linux 6.6+ with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV), where the
// Device owns an IOMMUFD (one IOAS) instead of a group and a container. The
// zero value, APIAuto, takes the cdev where both files exist (SelectAPI says
// which and why; Available what a device can use). Only how the device fd
// is obtained and how DMA is mapped differ: regions, config space, IRQs and
// reset are the same device fd, and an Allocator maps through whichever
// Mapper the Device has.
//
// Errors that a user has to act on wrap sentinels (ErrNoVFIO, ErrNotBound,
// ErrNoIOMMUGroup, ErrGroupNotViable, ErrNoInterruptRemapping, ErrPermission,
// ErrMemlock, ErrNoIOMMUFD, ErrNoCdev) and say what to do, naming the paths involved.
//
// golang.org/x/sys has no VFIO definitions: the ioctl numbers and structures
// are in abi.go and abi_iommufd.go, pinned to linux/vfio.h and
// linux/iommufd.h by tests. Raw syscalls are in
// sys_unsafe.go only.
package vfio
