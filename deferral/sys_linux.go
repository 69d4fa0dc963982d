package deferral

import (
	"fmt"
	"os"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Raw system calls of the package live here and in sys_unsafe.go; those that
// schedule, pin and name threads are the rt package's.

// voluntarySwitches returns the calling thread's voluntary context switch
// count (getrusage RUSAGE_THREAD ru_nvcsw): it grows when the thread sleeps.
func voluntarySwitches() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return ru.Nvcsw
}

// newEventfd returns a non-blocking, close-on-exec eventfd.
func newEventfd() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("eventfd", err)
	}
	return fd, nil
}

// eventfdSignal adds 1 to an eventfd (an interrupt, a kick). It does not allocate.
// Raw: the top half calls it (see doc.go on real-time threads).
func eventfdSignal(fd int) {
	var one = [8]byte{1}
	_ = rawWrite8(fd, &one)
}

// eventfdRead consumes an eventfd's counter; it does not allocate.
// Raw: the top half calls it (see doc.go on real-time threads).
func eventfdRead(fd int) (uint64, error) {
	var b [8]byte
	n, errno := rawRead8(fd, &b)
	if errno != 0 {
		return 0, errno
	}
	if n != 8 {
		return 0, fmt.Errorf("eventfd short read %d", n)
	}
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56, nil
}

// gettid returns the calling thread's TID; it does not allocate.
func gettid() int { return unix.Gettid() }
