package rt

import (
	"unsafe"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// CurrentCPU returns the core the calling thread runs on (getcpu(2), what
// sched_getcpu(3) wraps). It does not allocate.
func CurrentCPU() int {
	var cpu, node uint32
	_, _, errno := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0)
	if errno != 0 {
		return -1
	}
	return int(cpu)
}
