// Package rtprobe is the real-time probe of uiodrv rt and the benchmarks: a
// periodic SCHED_FIFO task on one core (what cyclictest measures: the
// wake-up latency after each absolute release), with a job of fixed CPU cost
// per period, so that a deadline can also be missed.
//
// Its system calls (sched_setaffinity, sched_setattr, clock_nanosleep) are
// made here, on the probe's own locked thread.
package rtprobe

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/internal/osthread"
	"github.com/uiodrv/uiodrv/rt"
)

// Threads is the number of OS threads Run locks (for rt.SizeGOMAXPROCS).
const Threads = 1

// Options configures the probe.
type Options struct {
	CPU      int           // core it is pinned to
	Prio     int           // SCHED_FIFO priority, 1..99
	Period   time.Duration // release period (1 ms)
	Work     time.Duration // CPU time each job spins for (wall clock); below Period
	Duration time.Duration // how long to run; at least one Period
	// Stop, when set, ends the run early once it reads true: it is checked
	// after each job, so the run ends within one Period of the store.
	Stop *atomic.Bool
}

// Validate checks o without a system call.
func (o Options) Validate() error {
	switch {
	case o.Prio < 1 || o.Prio > 99:
		return fmt.Errorf("priority %d: want 1-99", o.Prio)
	case o.Period <= 0:
		return fmt.Errorf("period %v: want > 0", o.Period)
	case o.Work < 0 || o.Work >= o.Period:
		return fmt.Errorf("work %v: want 0 <= work < period (%v)", o.Work, o.Period)
	case o.Duration < o.Period:
		return fmt.Errorf("duration %v: want at least one period (%v)", o.Duration, o.Period)
	case o.CPU < 0 || o.CPU >= runtime.NumCPU():
		return fmt.Errorf("cpu %d: want 0-%d", o.CPU, runtime.NumCPU()-1)
	}
	return nil
}

// Result is what the probe saw.
type Result struct {
	Jobs   uint64             // jobs released
	Misses uint64             // jobs that did not finish before the next release
	Wakeup deferral.Histogram // release to wake-up latency, ns
	// Late counts wake-ups at least half a period after their release: a
	// finer count of the tail than Misses, which in a quiet lab is mostly
	// the host's few long stalls and so cannot tell two drivers apart.
	Late    uint64
	Elapsed time.Duration
	Stopped bool // Options.Stop ended the run before Duration
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

// MonoNS is CLOCK_MONOTONIC in ns without a system call. A system call per
// reading would hand the thread's Go P to sysmon whenever it is slow (under
// TCG, often), a scheduling storm in a spin loop.
func MonoNS() int64 { return monoBase + int64(time.Since(monoT0)) }

// Spin burns the CPU for d of wall-clock time.
func Spin(d time.Duration) {
	end := MonoNS() + int64(d)
	for MonoNS() < end {
	}
}

// Run runs the probe on its own locked, pinned SCHED_FIFO thread and returns
// when o.Duration has passed. Releases are absolute (clock_nanosleep
// TIMER_ABSTIME on CLOCK_MONOTONIC). A job is missed when it finishes after
// the next release (its deadline). Releases are never skipped: after a stall
// the late jobs run back to back, each missing its deadline, as a periodic
// control loop that must not drop samples would. The loop allocates nothing.
//
// The process should have a spare Go P for the probe's thread
// (rt.SizeGOMAXPROCS with Threads), or the woken task may wait for the
// Go scheduler, not the kernel's.
func Run(o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	type out struct {
		r   *Result
		err error
	}
	ch := make(chan out, 1)
	// A thread of its own, never the main thread: it dies with the
	// goroutine, and its FIFO class and pinning with it.
	osthread.Go(func() {
		r, err := run(o)
		ch <- out{r, err}
	})
	res := <-ch
	return res.r, res.err
}

func run(o Options) (*Result, error) {
	var set unix.CPUSet
	set.Set(o.CPU)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("pin to cpu %d: %w", o.CPU, os.NewSyscallError("sched_setaffinity", err))
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(o.Prio)}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("SCHED_FIFO %d: %w: %w; fix: run as root, or grant CAP_SYS_NICE or an RLIMIT_RTPRIO of at least %d",
				o.Prio, rt.ErrRTNotPermitted, os.NewSyscallError("sched_setattr", err), o.Prio)
		}
		return nil, fmt.Errorf("SCHED_FIFO %d: %w", o.Prio, os.NewSyscallError("sched_setattr", err))
	}
	r := &Result{}
	period := int64(o.Period)
	start := MonoNS()
	end := start + int64(o.Duration)
	next := start + period
	for next <= end {
		ts := unix.NsecToTimespec(next)
		for {
			err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil)
			if err != unix.EINTR {
				break
			}
		}
		woke := MonoNS()
		r.Wakeup.Record(woke - next)
		if 2*(woke-next) >= period {
			r.Late++
		}
		Spin(o.Work)
		done := MonoNS()
		r.Jobs++
		if done > next+period {
			r.Misses++
		}
		next += period
		if o.Stop != nil && o.Stop.Load() {
			r.Stopped = true
			break
		}
	}
	r.Elapsed = time.Duration(MonoNS() - start)
	return r, nil
}
