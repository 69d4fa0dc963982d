package bench

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/deferral"
)

// PeriodicOptions configures the real-time probe: a periodic SCHED_FIFO task,
// the classic victim of softirq work (what cyclictest measures, plus a job per
// period so that a deadline can be missed).
type PeriodicOptions struct {
	CPU      int           // core it is pinned to
	Prio     int           // SCHED_FIFO priority
	Period   time.Duration // release period (1 ms)
	Work     time.Duration // CPU time each job spins for (wall clock)
	Duration time.Duration // how long to run
}

// PeriodicResult is what the probe saw.
type PeriodicResult struct {
	Jobs    uint64             // jobs released
	Misses  uint64             // jobs that did not finish before the next release
	Wakeup  deferral.Histogram // release to wake-up latency, ns
	Elapsed time.Duration
}

// monoBase ties Go's monotonic clock (read through the vDSO, no system call)
// to CLOCK_MONOTONIC, which clock_nanosleep takes: both are the same clock,
// so one syscall at start gives the offset.
var monoBase, monoT0 = func() (int64, time.Time) {
	var ts unix.Timespec
	t0 := time.Now()
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano(), t0
}()

// monoNS is CLOCK_MONOTONIC in ns without a system call. A system call per
// reading would hand the thread's Go P to sysmon whenever it is slow (under
// TCG, often), a scheduling storm in a spin loop.
func monoNS() int64 { return monoBase + int64(time.Since(monoT0)) }

// Spin burns the CPU for d of wall-clock time.
func Spin(d time.Duration) {
	end := monoNS() + int64(d)
	for monoNS() < end {
	}
}

// RunPeriodic runs the probe on its own locked, pinned SCHED_FIFO thread and
// returns when opts.Duration has passed. Releases are absolute
// (clock_nanosleep TIMER_ABSTIME on CLOCK_MONOTONIC). A job is missed when it
// finishes after the next release (its deadline). Releases are never
// skipped: after a stall the late jobs run back to back, each missing its
// deadline, as a periodic control loop that must not drop samples would.
//
// The calling process should have spare Go Ps (runtime.GOMAXPROCS above the
// number of threads that spin), or the woken task may wait for the Go
// scheduler, not the kernel's: see RaiseGOMAXPROCS.
func RunPeriodic(opts PeriodicOptions) (*PeriodicResult, error) {
	type out struct {
		r   *PeriodicResult
		err error
	}
	ch := make(chan out, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		r, err := runPeriodic(opts)
		ch <- out{r, err}
	}()
	o := <-ch
	return o.r, o.err
}

func runPeriodic(o PeriodicOptions) (*PeriodicResult, error) {
	var set unix.CPUSet
	set.Set(o.CPU)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return nil, os.NewSyscallError("sched_setaffinity", err)
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(o.Prio)}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return nil, fmt.Errorf("SCHED_FIFO %d: %w", o.Prio, os.NewSyscallError("sched_setattr", err))
	}
	r := &PeriodicResult{}
	period := int64(o.Period)
	start := monoNS()
	end := start + int64(o.Duration)
	next := start + period
	for next < end {
		ts := unix.NsecToTimespec(next)
		for {
			err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil)
			if err != unix.EINTR {
				break
			}
		}
		woke := monoNS()
		r.Wakeup.Record(woke - next)
		Spin(o.Work)
		done := monoNS()
		r.Jobs++
		if done > next+period {
			r.Misses++
		}
		next += period
	}
	r.Elapsed = time.Duration(monoNS() - start)
	return r, nil
}

// RaiseGOMAXPROCS gives the process n Ps more than cores, so that a locked
// real-time thread woken by the kernel finds an idle P at once instead of
// queueing behind spinning goroutines (a priority inversion the kernel cannot
// see; deferral's package doc lists it). It returns the previous value.
func RaiseGOMAXPROCS(n int) int {
	return runtime.GOMAXPROCS(runtime.NumCPU() + n)
}
