package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/internal/rtprobe"
	"github.com/uiodrv/uiodrv/rt"
)

const rtUsage = `Usage: uiodrv rt [--cpu N] [--period D] [--work D] [--prio N] [--duration D]

Runs a periodic SCHED_FIFO task on one CPU, the test cyclictest runs plus a
job of --work CPU time in each period, and prints how many jobs missed their
deadline (finished after the next release) and the wake-up latency (release to
running) p50/p99/max. First it lists the real-time and deadline threads of the
machine that may run on that CPU, marking those that preempt the task.

It runs beside a packet path, not inside one: start uiodrv run in another
shell with its top half on --cpu (--irq-cpu), or leave the NIC to the kernel's
driver and give --cpu the CPU its interrupt goes to
(/proc/irq/N/smp_affinity_list). The same probe then measures both on the same
hardware, and the driver's Go runtime and the probe's do not share Ps or GC.

Examples:
  uiodrv rt --cpu 0 --period 1ms --work 100us --prio 80 --duration 20s
  uiodrv --dev 0000:03:00.0 --mode threaded --bh-sched deadline:200us/1ms --rt-lock &
  uiodrv rt --cpu 0 --duration 60s --max-misses 0

Flags:
`

type rtCmdFlags struct {
	cpu       int
	prio      int
	period    time.Duration
	work      time.Duration
	duration  time.Duration
	delay     time.Duration
	mlock     bool
	list      bool
	maxMisses int64
	stop      *atomic.Bool // set by a stop signal (cmdRT)
}

func (f *rtCmdFlags) add(fs *pflag.FlagSet) {
	fs.IntVar(&f.cpu, "cpu", 0, "CPU to run on: the interrupt's (uiodrv's --irq-cpu)")
	fs.IntVar(&f.prio, "prio", 80, "SCHED_FIFO priority 1-99 (above threaded IRQs at 50, below a top half at 90)")
	fs.DurationVar(&f.period, "period", time.Millisecond, "release period")
	fs.DurationVar(&f.work, "work", 100*time.Microsecond, "CPU time each job spins for; below --period")
	fs.DurationVar(&f.duration, "duration", 20*time.Second, "how long to run")
	fs.DurationVar(&f.delay, "delay", 0, "wait this long before starting (let the load reach its steady state)")
	fs.BoolVar(&f.mlock, "mlock", true, "lock memory (mlockall) and turn the GC off while measuring")
	fs.BoolVar(&f.list, "list", true, "list the real-time threads that may run on --cpu")
	fs.Int64Var(&f.maxMisses, "max-misses", -1, "exit 1 when more jobs than this miss (-1: never)")
}

func (f *rtCmdFlags) options() rtprobe.Options {
	return rtprobe.Options{CPU: f.cpu, Prio: f.prio, Period: f.period, Work: f.work, Duration: f.duration, Stop: f.stop}
}

// Bounds of uiodrv rt's times. A period below 50 µs makes the SCHED_FIFO
// task a busy loop that starves its CPU (cyclictest's own intervals start
// at 100 µs); above 1 s a signal waits that long for the loop to see it.
const (
	minRTPeriod   = 50 * time.Microsecond
	maxRTPeriod   = time.Second
	maxRTDuration = 24 * time.Hour
	maxRTDelay    = time.Hour
)

// checkBounds refuses times outside the bounds above (usage errors).
func (f *rtCmdFlags) checkBounds() error {
	switch {
	case f.period < minRTPeriod || f.period > maxRTPeriod:
		return usagef("--period %v: want %v to %v (a shorter period is a SCHED_FIFO busy loop)", f.period, minRTPeriod, maxRTPeriod)
	case f.duration > maxRTDuration:
		return usagef("--duration %v: want at most %v", f.duration, maxRTDuration)
	case f.delay < 0 || f.delay > maxRTDelay:
		return usagef("--delay %v: want 0 to %v", f.delay, maxRTDelay)
	}
	return nil
}

func cmdRT(e *env, args []string) int {
	var f rtCmdFlags
	fs := pflag.NewFlagSet("rt", pflag.ContinueOnError)
	f.add(fs)
	if st, done := parseFlags(e, fs, "rt", rtUsage, args); done {
		return st
	}
	if err := f.checkBounds(); err != nil {
		return report(e.stderr, "rt", err)
	}
	if err := f.options().Validate(); err != nil {
		return report(e.stderr, "rt", usageError{err})
	}
	if err := parseCPU("cpu", f.cpu); err != nil {
		return report(e.stderr, "rt", err)
	}
	// A stop signal ends the probe after its current job: the summary is
	// printed and the memory unlocked, as at the end of --duration.
	f.stop = new(atomic.Bool)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
			f.stop.Store(true)
		case <-done:
		}
	}()
	return report(e.stderr, "rt", runRTFn(e.stdout, &f))
}

// runRTFn runs the probe; the CLI fuzz test replaces it (no SCHED_FIFO).
var runRTFn = runRT

func runRT(w io.Writer, f *rtCmdFlags) error {
	mem := "memory not locked, GC on"
	if f.mlock {
		if err := rt.LockMemory(); err != nil {
			return fmt.Errorf("%w (or pass --mlock=false)", err)
		}
		defer rt.UnlockMemory()
		defer rt.GCOff(64 << 20)()
		mem = "memory locked, GC off"
	}
	rt.SizeGOMAXPROCS(rtprobe.Threads)
	for end := time.Now().Add(f.delay); time.Now().Before(end) && (f.stop == nil || !f.stop.Load()); {
		time.Sleep(min(time.Until(end), 50*time.Millisecond))
	}
	fmt.Fprintf(w, "uiodrv rt: SCHED_FIFO %d on CPU %d, period %v, job %v, for %v; %s\n",
		f.prio, f.cpu, f.period, f.work, f.duration, mem)
	if f.list {
		writeRTThreads(w, f.cpu, f.prio)
	}
	gc0 := rt.GCCycles()
	r, err := rtprobe.Run(f.options())
	if err != nil {
		return err
	}
	gc := rt.GCCycles() - gc0
	if r.Stopped {
		fmt.Fprintln(w, "rt: stopped by signal before --duration")
	}
	fmt.Fprintf(w, "rt: jobs %d missed %d (%.2f%%) wakeup p50 %v p99 %v max %v elapsed %v gc %d\n",
		r.Jobs, r.Misses, 100*float64(r.Misses)/float64(max(r.Jobs, 1)),
		time.Duration(r.Wakeup.Quantile(0.5)), time.Duration(r.Wakeup.Quantile(0.99)), time.Duration(r.Wakeup.Max()),
		r.Elapsed.Round(time.Millisecond), gc)
	if f.maxMisses >= 0 && r.Misses > uint64(f.maxMisses) {
		return fmt.Errorf("%d jobs missed their deadline, more than --max-misses %d", r.Misses, f.maxMisses)
	}
	return nil
}

// rtThread is a thread of the machine under a real-time or deadline policy.
type rtThread struct {
	pid, tid int
	comm     string
	sched    rt.Sched
	cpus     string
	preempts bool // runs before a SCHED_FIFO task at the probe's priority
}

// writeRTThreads lists the machine's real-time and deadline threads allowed
// on cpu (the probe's own process left out).
func writeRTThreads(w io.Writer, cpu, prio int) {
	ts := rtThreadsOn(cpu, prio)
	fmt.Fprintf(w, "real-time threads that may run on CPU %d (* preempts the task):\n", cpu)
	if len(ts) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, t := range ts {
		mark := " "
		if t.preempts {
			mark = "*"
		}
		fmt.Fprintf(w, " %s pid %-6d tid %-6d %-16s %-24s cpus %s\n", mark, t.pid, t.tid, t.comm, t.sched, t.cpus)
	}
}

func rtThreadsOn(cpu, prio int) []rtThread {
	self := os.Getpid()
	var out []rtThread
	tasks, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*")
	for _, dir := range tasks {
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dir))))
		tid, _ := strconv.Atoi(filepath.Base(dir))
		if pid == self {
			continue
		}
		policy, rtPrio, err := rt.ProcThreadPolicy(pid, tid)
		if err != nil || (policy != unix.SCHED_FIFO && policy != unix.SCHED_RR && policy != unix.SCHED_DEADLINE) {
			continue
		}
		cpus := allowedCPUs(dir)
		if !cpuListHas(cpus, cpu) {
			continue
		}
		t := rtThread{pid: pid, tid: tid, cpus: cpus, sched: rt.FIFO(rtPrio)}
		if policy == unix.SCHED_DEADLINE {
			if s, err := rt.ThreadSchedOf(tid); err == nil {
				t.sched = s
			}
		}
		t.preempts = policy == unix.SCHED_DEADLINE || rtPrio > prio
		b, _ := os.ReadFile(filepath.Join(dir, "comm"))
		t.comm = strings.TrimSpace(string(b))
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].preempts != out[j].preempts {
			return out[i].preempts
		}
		return out[i].tid < out[j].tid
	})
	return out
}

// allowedCPUs reads Cpus_allowed_list from a task's status.
func allowedCPUs(taskDir string) string {
	b, err := os.ReadFile(filepath.Join(taskDir, "status"))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cpuListHas reports whether a kernel CPU list ("0-3,6") holds cpu.
func cpuListHas(list string, cpu int) bool {
	for _, r := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if a <= cpu && cpu <= b {
			return true
		}
	}
	return false
}
