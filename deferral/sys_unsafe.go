package deferral

import (
	"unsafe"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Raw (runtime-invisible) system calls for real-time threads; why: see
// "Real-time threads and the Go runtime's system calls" in doc.go.

// rawEpollWait is epoll_wait(2) (as epoll_pwait with no mask) without
// entersyscall/exitsyscall: the caller keeps its P and its goroutine stays
// _Grunning while it blocks. It does not allocate.
func rawEpollWait(epfd int, events []unix.EpollEvent, msec int) (int, unix.Errno) {
	var p unsafe.Pointer
	if len(events) > 0 {
		p = unsafe.Pointer(&events[0])
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(p), uintptr(len(events)), uintptr(msec), 0, 0)
	return int(n), errno
}

// rawRead8 reads an 8-byte eventfd counter without entersyscall. The fd must
// be non-blocking.
func rawRead8(fd int, b *[8]byte) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(b)), 8)
	return int(n), errno
}

// rawWrite8 writes an 8-byte eventfd increment without entersyscall.
func rawWrite8(fd int, b *[8]byte) unix.Errno {
	_, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(b)), 8)
	return errno
}

// rawClockNanosleep is clock_nanosleep(2) on CLOCK_MONOTONIC (relative)
// without entersyscall: the caller keeps its P while it sleeps (the adaptive
// executor's flush wait, adaptive_linux.go). It does not allocate.
func rawClockNanosleep(ts *unix.Timespec) unix.Errno {
	_, _, errno := unix.RawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	return errno
}
