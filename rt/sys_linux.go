package rt

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// The package's system calls live here.

// ErrRTNotPermitted is returned (wrapped) when a thread cannot get the
// SCHED_FIFO priority it was asked for: the process lacks CAP_SYS_NICE or
// RLIMIT_RTPRIO is too low. Callers may retry with RTPrio 0 (SCHED_OTHER); the
// package never falls back silently.
var ErrRTNotPermitted = errors.New("rt: real-time scheduling not permitted")

// ErrNiceNotPermitted is returned (wrapped) when a thread cannot lower its nice
// value (high-priority workqueue workers run at nice -20, as the kernel's do).
var ErrNiceNotPermitted = errors.New("rt: negative nice not permitted")

// schedFlagResetOnFork is SCHED_FLAG_RESET_ON_FORK: threads cloned from an RT
// thread start as SCHED_OTHER. The Go runtime already creates new Ms from a
// template thread when the current one is locked, this is belt and braces.
const schedFlagResetOnFork = 0x01

// ThreadAttrs is what ConfigureThread applies to the calling OS thread.
type ThreadAttrs struct {
	// Name is the thread's comm (ps -L, top -H), truncated to 15 bytes by
	// the kernel; "" leaves it.
	Name string
	// CPU is the core to pin the thread to; -1 leaves the inherited mask.
	// A deadline thread is not pinned (CPU is ignored): see Sched.
	CPU int
	// Sched is the thread's class. The zero value (PolicyDefault) is
	// SCHED_OTHER at nice 0, set explicitly: a thread cloned from a
	// real-time one does not keep its class.
	Sched Sched
}

// ConfigureThread names, pins and schedules the calling thread. The caller
// must have called runtime.LockOSThread and must never unlock it: the class
// and the mask belong to the OS thread, and another goroutine would inherit
// them. Use it on a thread of its own (StartThread), never on the process's
// main thread (doc.go).
func ConfigureThread(a ThreadAttrs) error {
	if a.Name != "" {
		setThreadName(a.Name)
	}
	if a.Sched.Policy == PolicyDeadline {
		// Placed (Sched.Start): move there first; widening the mask
		// afterwards leaves the running thread where it is.
		if cpu, ok := a.Sched.StartCPU(); ok {
			if err := PinThread(0, cpu); err != nil {
				return fmt.Errorf("place the deadline thread on cpu %d: %w", cpu, err)
			}
		}
		// The thread may have inherited a narrower mask from the thread that
		// cloned it; the kernel admits a deadline task only with a mask
		// spanning its root domain.
		set := processCPUs()
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return fmt.Errorf("sched_setaffinity %s: %w", cpuList(set), os.NewSyscallError("sched_setaffinity", err))
		}
		return SetThreadSched(0, a.Sched)
	}
	if a.CPU >= 0 {
		if err := PinThread(0, a.CPU); err != nil {
			return err
		}
	}
	if a.Sched.IsZero() {
		return setSched(0, 0, 0)
	}
	return SetThreadSched(0, a.Sched)
}

// PinThread sets the affinity of thread tid (0 = caller) to the single core
// cpu. A SCHED_DEADLINE thread cannot be pinned (ErrDeadlineAffinity).
func PinThread(tid, cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(tid, &set); err != nil {
		if errors.Is(err, unix.EBUSY) { // dl_task_check_affinity
			return fmt.Errorf("sched_setaffinity cpu %d: %w: %w: the thread is SCHED_DEADLINE, whose mask must span its root domain",
				cpu, ErrDeadlineAffinity, os.NewSyscallError("sched_setaffinity", err))
		}
		return fmt.Errorf("sched_setaffinity cpu %d: %w", cpu, os.NewSyscallError("sched_setaffinity", err))
	}
	return nil
}

// AllowedCPU reports whether cpu is in the process's mask at start. Below
// NumCPU a CPU may still be outside it: a process started in a cpuset of
// CPUs 2-3 has NumCPU 4.
func AllowedCPU(cpu int) bool {
	if cpu < 0 || cpu >= NumCPU() {
		return false
	}
	s := processCPUs()
	return s.IsSet(cpu)
}

// AllowedCPUs lists the process's CPUs at start ("1", "0-3").
func AllowedCPUs() string { return cpuList(processCPUs()) }

// UnpinThread allows thread tid (0 = caller) to run on every core of the
// process's mask at start (NumCPU).
func UnpinThread(tid int) error {
	var set unix.CPUSet
	for i := 0; i < NumCPU(); i++ {
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
			return fmt.Errorf("rt: SCHED_FIFO priority %d out of range 1..99", rtPrio)
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

// processCPUs is the process's affinity mask at start (taskset, cpusets):
// what a deadline thread is allowed on.
var processCPUs = sync.OnceValue(func() unix.CPUSet {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil || set.Count() == 0 {
		set.Zero()
		set.Set(0)
	}
	return set
})

// NumCPU is one more than the highest core in the process's affinity mask at
// start: the bound of a valid CPU number for PinThread, ProbeSched and
// Housekeep. It is not runtime.NumCPU, which counts the cores of the mask.
var NumCPU = sync.OnceValue(func() int {
	set := processCPUs()
	n := 0
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			n = i + 1
		}
	}
	return max(n, 1)
})

// Errors of SCHED_DEADLINE, each with its cause and fix in the message. A
// missing CAP_SYS_NICE wraps ErrRTNotPermitted; parameters the kernel calls
// invalid wrap ErrSchedInvalid.
var (
	// ErrDeadlineBusy: admission control (EBUSY). The deadline tasks of the
	// root domain would reserve more than sched_rt_runtime_us /
	// sched_rt_period_us of each of its CPUs.
	ErrDeadlineBusy = errors.New("rt: SCHED_DEADLINE refused by admission control")
	// ErrDeadlineAffinity: the thread's CPU mask does not span its root
	// domain (EPERM from sched_setattr, EBUSY from sched_setaffinity on a
	// deadline thread).
	ErrDeadlineAffinity = errors.New("rt: SCHED_DEADLINE needs a CPU mask spanning the root domain")
	// ErrDeadlineNoBandwidth: the root domain has no deadline bandwidth at
	// all (sched_rt_runtime_us is 0).
	ErrDeadlineNoBandwidth = errors.New("rt: no SCHED_DEADLINE bandwidth (sched_rt_runtime_us is 0)")
)

// SetThreadSched applies s to thread tid (0 = caller) with
// SCHED_FLAG_RESET_ON_FORK, and maps the kernel's refusals to errors that name
// cause and fix. PolicyDefault changes nothing.
func SetThreadSched(tid int, s Sched) error {
	if err := s.Validate(); err != nil {
		return err
	}
	switch s.Policy {
	case PolicyDefault:
		return nil
	case PolicyOther:
		return setSched(tid, 0, s.Nice)
	case PolicyFIFO:
		return setSched(tid, s.Prio, 0)
	}
	attr := unix.SchedAttr{
		Size:     unix.SizeofSchedAttr,
		Policy:   unix.SCHED_DEADLINE,
		Flags:    schedFlagResetOnFork, // a deadline task may not fork without it (EAGAIN)
		Runtime:  uint64(s.Runtime),
		Deadline: uint64(s.Deadline),
		Period:   uint64(s.Period),
	}
	err := unix.SchedSetAttr(tid, &attr, 0)
	if err == nil {
		return nil
	}
	what := "sched_setattr " + s.String()
	sys := os.NewSyscallError("sched_setattr", err)
	switch {
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("%s: %w: %w: the deadline tasks of this root domain may reserve at most %s of each CPU "+
			"(sched_rt_runtime_us/sched_rt_period_us); fix: a smaller runtime or longer period, fewer deadline tasks, "+
			"or a larger /proc/sys/kernel/sched_rt_runtime_us", what, ErrDeadlineBusy, sys, rtShare())
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("%s: %w: %w: want 1.024µs <= runtime <= deadline <= period, and the period within "+
			"/proc/sys/kernel/sched_deadline_period_{min,max}_us", what, ErrSchedInvalid, sys)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("%s: %w", what, deadlineEPERM(tid, sys))
	}
	return fmt.Errorf("%s: %w", what, sys)
}

// deadlineEPERM tells which of the kernel's EPERM causes applies
// (__sched_setscheduler): no CAP_SYS_NICE (an unprivileged task may never
// become SCHED_DEADLINE, whatever RLIMIT_RTPRIO says), a CPU mask narrower
// than the root domain, or a root domain without deadline bandwidth.
func deadlineEPERM(tid int, sys error) error {
	if !hasCapSysNice() {
		return fmt.Errorf("%w: %w: SCHED_DEADLINE needs CAP_SYS_NICE; fix: run as root or grant it "+
			"(setcap cap_sys_nice+ep, or AmbientCapabilities=CAP_SYS_NICE in a systemd unit)", ErrRTNotPermitted, sys)
	}
	var mask unix.CPUSet
	online, onlineErr := onlineCPUs()
	if unix.SchedGetaffinity(tid, &mask) == nil && onlineErr == nil && !subset(online, mask) {
		return fmt.Errorf("%w: %w: the thread may run on CPUs %s, its root domain spans more (online: %s); a deadline "+
			"task cannot be pinned; fix: do not narrow the process's CPU mask (taskset, systemd AllowedCPUs, a "+
			"cpuset), or give those CPUs a root domain of their own (cgroup v2 cpuset.cpus.partition=root, isolcpus)",
			ErrDeadlineAffinity, sys, cpuList(mask), cpuList(online))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/sched_rt_runtime_us"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return fmt.Errorf("%w: %w; fix: write a positive value (e.g. 950000) to /proc/sys/kernel/sched_rt_runtime_us",
			ErrDeadlineNoBandwidth, sys)
	}
	return fmt.Errorf("%w: %w: the thread's CPU mask probably does not span its root domain (a cpuset partition "+
		"narrower than the online CPUs); fix: run the process in a cpuset whose CPUs form a root domain",
		ErrDeadlineAffinity, sys)
}

// ThreadSchedOf returns thread tid's scheduling class (any process's thread:
// sched_getattr needs no privilege).
func ThreadSchedOf(tid int) (Sched, error) {
	a, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return Sched{}, os.NewSyscallError("sched_getattr", err)
	}
	switch a.Policy {
	case unix.SCHED_FIFO, unix.SCHED_RR:
		return FIFO(int(a.Priority)), nil
	case unix.SCHED_DEADLINE:
		return Deadline(time.Duration(a.Runtime), time.Duration(a.Deadline), time.Duration(a.Period)), nil
	}
	return Sched{Policy: PolicyOther, Nice: int(a.Nice)}, nil
}

// ThreadCPUTime is the calling thread's CPU time in ns
// (CLOCK_THREAD_CPUTIME_ID); it does not allocate.
func ThreadCPUTime() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

// schedYield is sched_yield(2). Under SCHED_DEADLINE it gives up the rest of
// the current instance: the thread sleeps until its next period.
func schedYield() { _, _, _ = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// ErrMemLock is returned (wrapped) when the process's memory cannot be locked.
var ErrMemLock = errors.New("rt: cannot lock memory")

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
