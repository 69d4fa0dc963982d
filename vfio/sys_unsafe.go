package vfio

import (
	"unsafe"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// This file holds every raw syscall of the package and every use of unsafe.
// The structs passed to the kernel are plain Go values without pointers: the
// kernel reads and writes them during the ioctl only.

// ioctl issues an ioctl whose argument is a pointer to arg (a struct or the
// first byte of a buffer).
func ioctlPtr[T any](fd int, req uintptr, arg *T) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(arg)))
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
}

// ioctlVal issues an ioctl whose argument is an integer.
func ioctlVal(fd int, req uintptr, arg uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
}

// ioctlBuf issues an ioctl on a byte buffer (a struct with a flexible array).
func ioctlBuf(fd int, req uintptr, buf []byte) (int, error) {
	return ioctlPtr(fd, req, &buf[0])
}

// ioctlBufRaw is ioctlBuf without entersyscall/exitsyscall, for short,
// non-blocking ioctls that real-time threads issue (VFIO_DEVICE_SET_IRQS:
// the INTx unmask after each interrupt). A thread inside a system call the
// Go runtime knows of can be left spinning in exitsyscall by another thread
// holding its scan bit; see deferral's doc.go, "Real-time threads".
func ioctlBufRaw(fd int, req uintptr, buf []byte) (int, error) {
	r, _, errno := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
}

// groupGetDeviceFD is VFIO_GROUP_GET_DEVICE_FD, whose argument is a C string.
func groupGetDeviceFD(groupFD int, name string) (int, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return -1, err
	}
	return ioctlPtr(groupFD, ioctlGroupGetDeviceFD, p)
}

// addrOf returns the virtual address of the first byte of mem (mmapped
// memory outside the Go heap, so it never moves).
func addrOf(mem []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&mem[0]))) }

// addrOfRanges returns the address of a Go array of struct iommu_iova_range
// for IOMMU_IOAS_IOVA_RANGES, which the kernel fills during the ioctl (the
// caller keeps it alive across the call: Go's heap does not move objects).
func addrOfRanges(buf []uint64) uint64 { return uint64(uintptr(unsafe.Pointer(&buf[0]))) }

// The wrappers below only re-export x/sys so that the package's syscalls are all in this file.

func open(path string, flags int) (int, error) { return unix.Open(path, flags|unix.O_CLOEXEC, 0) }
func closeFD(fd int) error                     { return unix.Close(fd) }
func pread(fd int, p []byte, off int64) (int, error) {
	return unix.Pread(fd, p, off)
}
func pwrite(fd int, p []byte, off int64) (int, error) {
	return unix.Pwrite(fd, p, off)
}
func mmap(fd int, off int64, n int, prot, flags int) ([]byte, error) {
	return unix.Mmap(fd, off, n, prot, flags)
}
func munmap(b []byte) error               { return unix.Munmap(b) }
func eventfd(flags int) (int, error)      { return unix.Eventfd(0, flags|unix.EFD_CLOEXEC) }
func read(fd int, p []byte) (int, error)  { return unix.Read(fd, p) }
func write(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
func getrlimitMemlock() (cur, max uint64, err error) {
	var r unix.Rlimit
	err = unix.Getrlimit(unix.RLIMIT_MEMLOCK, &r)
	return r.Cur, r.Max, err
}
