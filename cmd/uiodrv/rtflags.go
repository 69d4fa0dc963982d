package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/rt"
)

// rtFlags are the run command's real-time flags: the bottom half's
// scheduling class (--bh-sched) and the Go runtime's conduct under real time
// (--rt-lock). GOMAXPROCS is always sized from the threads the port locks.
type rtFlags struct {
	bhSched  string
	lock     bool
	memLimit int64 // MiB

	sched        rt.Sched
	topNone      bool // --top-half none
	topThread    bool // --top-half thread
	bhCPUGiven   bool // --bh-cpu was on the command line
	prevProcs    int  // GOMAXPROCS before sizing
	procs        int  // GOMAXPROCS after sizing
	locked       int  // threads locked when sized
	gcAtStart    uint64
	memoryLocked bool
	housekeeping string // --housekeeping-cpus (housekeep.go)
	hkCPUs       []int
	housekept    int // threads moved
}

// minRTMemLimit is the smallest --rt-mem-limit: below it the GC would run
// often even with GOGC off (the process's own baseline is tens of MiB).
const minRTMemLimit = 64

// maxRTMemLimit is the largest --rt-mem-limit, 16 TiB in MiB: far above any
// machine uiodrv runs on, and far below what overflows when shifted to bytes.
const maxRTMemLimit = 1 << 24

func (r *rtFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&r.bhSched, "bh-sched", "", "scheduling class of the threaded IRQ thread or the workqueue worker: "+
		rt.SchedForms+" (deadline threads are not pinned: see README, Real time)")
	fs.BoolVar(&r.lock, "rt-lock", false, "lock all memory (mlockall current and future; needs RLIMIT_MEMLOCK unlimited or "+
		"CAP_IPC_LOCK) and turn the garbage collector off (GOGC=off) under a memory limit of --rt-mem-limit")
	fs.Int64Var(&r.memLimit, "rt-mem-limit", 512, "with --rt-lock: the soft memory limit in MiB at which the GC runs after all")
	fs.StringVar(&r.housekeeping, "housekeeping-cpus", "", "CPUs (e.g. 1 or 1-3) for the process's unpinned threads (Go runtime, "+
		"handler) once the ports are up: keep them off a real-time task's CPU")
}

// validate checks the real-time flags; every error is a usage error and
// nothing has been touched. fs tells which flags were given.
func (r *rtFlags) validate(fs *pflag.FlagSet, mode deferral.Mode, threadPrio int) error {
	if f := fs.Lookup("bh-cpu"); f != nil {
		r.bhCPUGiven = f.Changed
	}
	if err := r.validateHousekeeping(fs.Changed("housekeeping-cpus")); err != nil {
		return err
	}
	if r.memLimit < minRTMemLimit || r.memLimit > maxRTMemLimit {
		return usagef("--rt-mem-limit %d: want %d to %d (MiB)", r.memLimit, minRTMemLimit, maxRTMemLimit)
	}
	if fs.Changed("rt-mem-limit") && !r.lock {
		return usagef("--rt-mem-limit is only used with --rt-lock")
	}
	if r.topThread {
		switch {
		case mode != deferral.ModeThreaded && mode != deferral.ModeWorkqueue:
			return usagef("--top-half thread applies to --mode threaded and workqueue (the IRQ thread, or the queue's single "+
				"worker, takes the interrupt itself); in %v mode use light", mode)
		case fs.Changed("rt-prio"):
			return usagef("--top-half thread runs the whole interrupt at the bottom half's class (--bh-sched, --thread-prio; " +
				"workqueue: nice -20); drop --rt-prio")
		}
	}
	if r.topNone {
		switch {
		case mode != deferral.ModeThreaded && mode != deferral.ModeWorkqueue:
			return usagef("--top-half none applies to --mode threaded and workqueue (their bottom half has a thread of its "+
				"own, whose class the top half takes); in %v mode use light", mode)
		case fs.Changed("rt-prio"):
			return usagef("--top-half none runs the top half at the bottom half's class (--bh-sched, --thread-prio); drop --rt-prio")
		}
	}
	if r.bhSched == "" {
		return nil
	}
	s, err := rt.ParseSched(r.bhSched)
	if err != nil {
		return usagef("--bh-sched %q: %v", r.bhSched, err)
	}
	if s.IsZero() {
		return nil
	}
	switch {
	case mode != deferral.ModeThreaded && mode != deferral.ModeWorkqueue:
		return usagef("--bh-sched applies to --mode threaded and workqueue; in %v mode the bottom half runs on the top half's "+
			"thread (--rt-prio) or spins", mode)
	case threadPrio != 0:
		return usagef("give --bh-sched or --thread-prio, not both (--bh-sched fifo:N is --thread-prio N)")
	case s.Policy == rt.PolicyDeadline && r.bhCPUGiven:
		return usagef("--bh-sched %v with --bh-cpu: the kernel admits a SCHED_DEADLINE thread only with a CPU mask "+
			"spanning its root domain, so it cannot be pinned; drop --bh-cpu (the thread may run on every CPU the process "+
			"may use), or run uiodrv in a cpuset partition of its own (cgroup v2 cpuset.cpus.partition=root)", s)
	}
	if cpu, ok := s.StartCPU(); ok && !rt.AllowedCPU(cpu) {
		return usagef("--bh-sched %v: CPU %d is not one this process may use (%s)", s, cpu, rt.AllowedCPUs())
	}
	if (r.topNone || r.topThread) && s.Policy == rt.PolicyDeadline && fs.Changed("irq-cpu") {
		return usagef("--top-half none or thread with --bh-sched %v: the top half takes the deadline class, which cannot be "+
			"pinned; drop --irq-cpu", s)
	}
	r.sched = s
	return nil
}

// applyTopNone gives the port, for --top-half none, the light top half on a
// thread of the bottom half's own class (deferral.BottomHalfSched) instead of
// SCHED_FIFO --rt-prio: nothing of the driver runs above the bottom half. A
// deadline class cannot be pinned, so that top half runs unpinned too.
// --top-half thread does the same with TopHalfThread (one thread).
func (r *rtFlags) applyTopNone(cfg *driver.Config, threadPrio int) {
	if !r.topNone && !r.topThread {
		return
	}
	cfg.TopHalf, cfg.RTPrio = driver.TopHalfLight, 0
	if r.topThread {
		cfg.TopHalf = driver.TopHalfThread
	}
	cfg.IRQSched = deferral.BottomHalfSched(cfg.Mode, r.sched, threadPrio)
	if cfg.IRQSched.Policy == rt.PolicyDeadline {
		// The kernel refuses a deadline thread pinned narrower than its
		// root domain: every queue's top half runs unpinned.
		cfg.IRQCPU = -1
		cpus := make([]int, len(cfg.IRQCPUs))
		for i := range cpus {
			cpus[i] = -1
		}
		cfg.IRQCPUs = cpus
	}
}

// preflight asks the kernel for what the flags need, before the device is
// opened: the bottom half's class (a throwaway thread tries it and gives it
// back), then the memory lock and the GC setting. A refusal is a runtime
// failure whose message names the cause and the fix; nothing is left changed.
// ports is the number of ports (bottom halves) the run starts.
func (r *rtFlags) preflight(bhCPU, ports int) error {
	if !r.sched.IsZero() {
		if err := rt.ProbeSched(r.sched, bhCPU, ports); err != nil {
			return fmt.Errorf("--bh-sched %v refused by the kernel: %w", r.sched, err)
		}
	}
	if r.lock {
		if err := rt.LockMemory(); err != nil {
			return fmt.Errorf("--rt-lock: %w", err)
		}
		r.memoryLocked = true
		_ = rt.GCOff(r.memLimit << 20) // for the life of the process
	}
	return nil
}

// warnHRTick warns, for a deadline class, when the kernel enforces the
// runtime only at its tick: without the HRTICK_DL scheduler feature a
// deadline thread overruns its runtime by up to a tick (4 ms at HZ=250)
// before it is throttled, and a real-time task on its CPU waits that long
// (rt/hrtick.go). uiodrv does not change the system-wide setting.
func (r *rtFlags) warnHRTick(log *zap.Logger) {
	if r.sched.Policy != rt.PolicyDeadline {
		return
	}
	fix := "echo " + rt.HRTickDL + " > " + rt.SchedFeaturesPath
	on, err := rt.SchedFeature(rt.HRTickDL)
	switch {
	case err != nil:
		log.Warn("cannot tell whether the kernel enforces deadline runtimes with an hrtimer; without it a deadline bottom "+
			"half can overrun its runtime by a scheduler tick", zap.Error(err), zap.String("fix", "mount debugfs and "+fix))
	case !on:
		log.Warn("the kernel enforces deadline runtimes only at its tick (HRTICK_DL off): the bottom half can overrun "+
			"its runtime by a tick (4 ms at HZ=250)", zap.String("fix", fix))
	}
}

// started sizes GOMAXPROCS from the threads the port locked and notes the
// GC cycles so far; call it once the port runs.
func (r *rtFlags) started() error {
	r.locked = rt.LockedThreads()
	r.prevProcs, r.procs = rt.SizeGOMAXPROCS(0)
	r.gcAtStart = rt.GCCycles()
	return r.housekeep()
}

// report prints what the Go runtime did during the run.
func (r *rtFlags) report(w io.Writer) {
	lock := "memory not locked, GC on (GOGC default)"
	if r.memoryLocked {
		lock = fmt.Sprintf("memory locked, GC off below %d MiB", r.memLimit)
	}
	if len(r.hkCPUs) > 0 {
		lock += fmt.Sprintf("; %d unpinned threads moved to CPUs %s", r.housekept, r.housekeeping)
	}
	fmt.Fprintf(w, "runtime   GOMAXPROCS %d (%d cores + %d locked threads); gc cycles while running %d; %s\n",
		r.procs, runtime.NumCPU(), r.locked, rt.GCCycles()-r.gcAtStart, lock)
}
