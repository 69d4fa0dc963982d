package deferral

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"

	"golang.org/x/sys/unix"
)

// ErrMemLock is returned (wrapped) when the process's memory cannot be locked.
var ErrMemLock = errors.New("deferral: cannot lock memory")

// LockMemory locks every page of the process, present and future
// (mlockall(MCL_CURRENT|MCL_FUTURE)), so that no real-time thread ever waits
// for a page fault to be served from disk or a page to be faulted in on
// first touch: the kernel's RT guidance, and cyclictest's -m. It first raises
// RLIMIT_MEMLOCK's soft limit to the hard one.
//
// Without CAP_IPC_LOCK the limit must be unlimited: with MCL_FUTURE, every
// later mapping past the limit (the heap growing, a new thread's stack) is
// refused, and the Go runtime aborts the process when it cannot map memory.
// LockMemory refuses, naming the fix, rather than leave that trap armed.
func LockMemory() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return fmt.Errorf("%w: %w", ErrMemLock, os.NewSyscallError("getrlimit", err))
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
			return fmt.Errorf("%w: raise RLIMIT_MEMLOCK to its hard limit: %w", ErrMemLock, os.NewSyscallError("setrlimit", err))
		}
	}
	fix := "fix: ulimit -l unlimited (LimitMEMLOCK=infinity in a systemd unit, memlock unlimited in limits.conf), or run with CAP_IPC_LOCK"
	ipcLock := hasCap(unix.CAP_IPC_LOCK)
	if !ipcLock && lim.Cur != unix.RLIM_INFINITY {
		return fmt.Errorf("%w: RLIMIT_MEMLOCK is %d KiB and the process lacks CAP_IPC_LOCK: with mlockall(MCL_FUTURE) "+
			"the Go runtime would abort at the first mapping past it; %s", ErrMemLock, lim.Cur/1024, fix)
	}
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE); err != nil {
		return fmt.Errorf("%w: %w: RLIMIT_MEMLOCK %s, CAP_IPC_LOCK %v; %s", ErrMemLock,
			os.NewSyscallError("mlockall", err), limString(lim.Cur), ipcLock, fix)
	}
	return nil
}

// UnlockMemory undoes LockMemory (munlockall).
func UnlockMemory() error {
	return os.NewSyscallError("munlockall", unix.Munlockall())
}

func limString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprintf("%d KiB", v/1024)
}

// GCOff turns the garbage collector's pacing off (GOGC=off) and sets a soft
// memory limit of limit bytes instead: the collector then runs only when the
// heap nears the limit. A steady packet path that allocates nothing never
// gets there, so no collection stops the real-time threads (stop-the-world
// phases, mark assists in handlers). restore puts the previous settings back.
func GCOff(limit int64) (restore func()) {
	pct := debug.SetGCPercent(-1)
	old := debug.SetMemoryLimit(limit)
	return func() {
		debug.SetMemoryLimit(old)
		debug.SetGCPercent(pct)
	}
}

// GCCycles is the number of completed GC cycles of the process
// (runtime/metrics /gc/cycles/total:gc-cycles). It allocates a little: not
// for the packet path.
func GCCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
