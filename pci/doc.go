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
//
// A name that becomes part of a sysfs path (a driver's) must pass
// CheckDriverName: Bind and Attach refuse any other. StateDir keeps the
// previous driver of each bound device: its folder must belong to the user
// running the program and be writable by no one else; records are read
// without following links and written whole (temporary file, rename that
// never replaces), mode 0600; a link, an empty record or one that is not a
// driver name is an error (ErrBadRecord), never a path to follow.
package pci
