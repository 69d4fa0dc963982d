// Package pci reads and changes PCI devices through Linux sysfs.
//
// It lists devices (address, vendor/device/class with names from a small
// built-in table, current driver, IOMMU group, NUMA node), parses and
// validates addresses, binds a device to a driver with driver_override and
// drivers_probe (remembering the previous driver so it can be restored), and
// reads and writes configuration space.
//
// Every sysfs access goes through a Sysfs value whose Root is the sysfs mount
// point ("/sys" when empty), so tests run against a fake tree in a temporary
// directory. Config space access is backend-neutral: Config wraps any
// io.ReaderAt/io.WriterAt, which is the sysfs "config" file here and the
// VFIO config region in package vfio.
package pci
