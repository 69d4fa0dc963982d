package uio

import (
	"unsafe"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Every raw syscall of the package and every use of unsafe.

// addrOf returns the virtual address of mem[0] (mmapped memory, never moves).
func addrOf(mem []byte) uintptr { return uintptr(unsafe.Pointer(&mem[0])) }

func open(path string, flags int) (int, error)       { return unix.Open(path, flags|unix.O_CLOEXEC, 0) }
func closeFD(fd int) error                           { return unix.Close(fd) }
func read(fd int, p []byte) (int, error)             { return unix.Read(fd, p) }
func pread(fd int, p []byte, off int64) (int, error) { return unix.Pread(fd, p, off) }
func munmap(b []byte) error                          { return unix.Munmap(b) }
func mlock(b []byte) error                           { return unix.Mlock(b) }
func mmapFile(fd int, n int) ([]byte, error) {
	return unix.Mmap(fd, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// mmapHuge maps n bytes of anonymous shared hugepages, populated and locked.
func mmapHuge(n int) ([]byte, error) {
	return unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_SHARED|unix.MAP_ANONYMOUS|unix.MAP_HUGETLB|unix.MAP_POPULATE|unix.MAP_LOCKED)
}
