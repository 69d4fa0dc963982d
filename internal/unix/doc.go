// Package unix is the module's one door to raw system calls: it re-exports
// what the module uses of golang.org/x/sys/unix and nothing else, the way
// cilium/ebpf's internal/unix does. Every package imports this one instead
// of x/sys, so that the system calls uiodrv makes are listed in one file
// (names.go), reviewed in one place and easy to fake or port.
//
// What x/sys does not offer (the VFIO and iommufd ioctls and their structs)
// stays in the package that owns the device (vfio), built on Syscall and
// the constants here.
package unix
