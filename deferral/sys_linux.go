package deferral

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Raw system calls of the package live here and in sys_unsafe.go.

// ErrRTNotPermitted is returned (wrapped) when a thread cannot get the
// SCHED_FIFO priority it was asked for: the process lacks CAP_SYS_NICE or
// RLIMIT_RTPRIO is too low. Callers may retry with RTPrio 0 (SCHED_OTHER); the
// package never falls back silently.
var ErrRTNotPermitted = errors.New("deferral: real-time scheduling not permitted")

// ErrNiceNotPermitted is returned (wrapped) when a thread cannot lower its nice
// value (high-priority workqueue workers run at nice -20, as the kernel's do).
var ErrNiceNotPermitted = errors.New("deferral: negative nice not permitted")

// schedFlagResetOnFork is SCHED_FLAG_RESET_ON_FORK: threads cloned from an RT
// thread start as SCHED_OTHER. The Go runtime already creates new Ms from a
// template thread when the current one is locked, this is belt and braces.
const schedFlagResetOnFork = 0x01

// threadAttrs is what configureThread applies to the calling OS thread.
type threadAttrs struct {
	name   string // comm, truncated to 15 bytes by the kernel
	cpu    int    // core to pin to; -1 = leave the inherited mask
	rtPrio int    // SCHED_FIFO priority 1..99; 0 = SCHED_OTHER
	nice   int    // nice value when rtPrio == 0
}

// configureThread names, pins and prioritizes the calling thread. The caller
// must have called runtime.LockOSThread.
func configureThread(a threadAttrs) error {
	if a.name != "" {
		setThreadName(a.name)
	}
	if a.cpu >= 0 {
		if err := pinThread(0, a.cpu); err != nil {
			return err
		}
	}
	return setSched(0, a.rtPrio, a.nice)
}

// pinThread sets the affinity of thread tid (0 = caller) to the single core cpu.
func pinThread(tid, cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(tid, &set); err != nil {
		return fmt.Errorf("sched_setaffinity cpu %d: %w", cpu, os.NewSyscallError("sched_setaffinity", err))
	}
	return nil
}

// unpinThread allows thread tid (0 = caller) to run on every online core.
func unpinThread(tid int) error {
	var set unix.CPUSet
	for i := 0; i < numCPU(); i++ {
		set.Set(i)
	}
	if err := unix.SchedSetaffinity(tid, &set); err != nil {
		return os.NewSyscallError("sched_setaffinity", err)
	}
	return nil
}

// setSched applies SCHED_FIFO rtPrio, or SCHED_OTHER with nice, to tid (0 = caller).
func setSched(tid, rtPrio, nice int) error {
	attr := unix.SchedAttr{Flags: schedFlagResetOnFork}
	switch {
	case rtPrio > 0:
		if rtPrio > 99 {
			return fmt.Errorf("deferral: SCHED_FIFO priority %d out of range 1..99", rtPrio)
		}
		attr.Policy = unix.SCHED_FIFO
		attr.Priority = uint32(rtPrio)
	default:
		attr.Policy = unix.SCHED_NORMAL
		attr.Nice = int32(nice)
	}
	if err := unix.SchedSetAttr(tid, &attr, 0); err != nil {
		if errors.Is(err, unix.EPERM) {
			if rtPrio > 0 {
				return fmt.Errorf("sched_setattr SCHED_FIFO %d: %w: %w", rtPrio, ErrRTNotPermitted, err)
			}
			return fmt.Errorf("sched_setattr nice %d: %w: %w", nice, ErrNiceNotPermitted, err)
		}
		return fmt.Errorf("sched_setattr: %w", os.NewSyscallError("sched_setattr", err))
	}
	return nil
}

// setThreadName sets the calling thread's comm (visible in ps -L, top -H).
// Failure is harmless and ignored.
func setThreadName(name string) {
	if len(name) > 15 {
		name = name[:15]
	}
	_ = os.WriteFile("/proc/thread-self/comm", []byte(name), 0)
}

// ThreadName returns the comm of thread tid of this process.
func ThreadName(tid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/comm", tid))
	if err != nil {
		return "", err
	}
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	return string(b), nil
}

// ThreadSched returns the policy (unix.SCHED_*), RT priority and nice of thread tid.
func ThreadSched(tid int) (policy, prio, nice int, err error) {
	a, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return 0, 0, 0, os.NewSyscallError("sched_getattr", err)
	}
	return int(a.Policy), int(a.Priority), int(a.Nice), nil
}

// voluntarySwitches returns the calling thread's voluntary context switch
// count (getrusage RUSAGE_THREAD ru_nvcsw): it grows when the thread sleeps.
func voluntarySwitches() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return ru.Nvcsw
}

// numCPU is one more than the highest core in the process's affinity mask at start.
var numCPU = sync.OnceValue(func() int {
	var set unix.CPUSet
	n := 0
	if unix.SchedGetaffinity(0, &set) == nil {
		for i := 0; i < len(set)*64; i++ {
			if set.IsSet(i) {
				n = i + 1
			}
		}
	}
	return max(n, 1)
})

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
