// Package guestinit is PID 1 of the lab guest.
//
// It mounts proc, sysfs, devtmpfs, tmpfs and hugetlbfs; loads the kernel
// modules listed in its configuration (in dependency order, with their
// parameters passed to finit_module, since the kernel command line does not
// reach loadable modules); reserves hugepages; binds PCI devices to
// vfio-pci or uio_pci_generic; runs the requested commands (as root, or as
// another user with its own resource limits and the paths it is to own, see
// user_linux.go); streams their
// output and exit status to the host as JSON lines over /dev/ttyS1; and powers
// the guest off. Any failure is reported to the host as a "fatal" message and
// also powers off: PID 1 never exits (that would panic the kernel) and never
// hangs waiting for something that cannot come.
package guestinit
