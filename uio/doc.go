// Package uio drives a PCI device from userspace through uio_pci_generic.
//
// Open finds /dev/uioN for a device bound to uio_pci_generic, mmaps its BARs
// through sysfs (resourceN) and gives config space access through the sysfs
// config file. The device's INTx interrupt is read from /dev/uioN: each
// read returns a 4-byte cumulative count, and uio_pci_generic masks INTx
// (PCI command register bit 10) on every interrupt, so IRQ.Unmask clears that
// bit again.
//
// Without an IOMMU the device sees physical memory, so DMA memory comes from
// locked hugepages whose physical addresses are read from /proc/self/pagemap
// (root only). Allocator hands out dma.Region values exactly like the VFIO
// backend does: code above the backends never knows which one it runs on.
//
//	d, err := uio.Open("0000:00:03.0", nil)
//	bar0, err := d.BAR(0)
//	err = d.EnableBusMaster()
//	alloc, err := d.Allocator()
//	irq, err := d.IRQ()
//	n, err := irq.Wait(ctx)
//	err = irq.Unmask()
//
// Raw syscalls and unsafe are in sys_unsafe.go only.
package uio
