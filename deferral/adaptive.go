package deferral

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/rt"
)

// Adaptive mode (ModeAdaptive): interrupts when quiet, polling under load,
// with the kernel's hysteresis between the two.
//
// An interrupt wakes the executor's thread (as a threaded IRQ). The thread
// then polls back to back for as long as its polls find work, with the
// source's interrupts left off: that is Linux 6.13's IRQ suspension, where
// interrupts stay suspended while the application keeps polling and finding
// events. When a poll finds nothing, the thread does not re-arm at once: it
// polls again FlushTimeout later (gro_flush_timeout, a timer instead of an
// interrupt), and re-arms (Reenable, then sleep until the next interrupt)
// once DeferHardIRQs x FlushTimeout (napi_defer_hard_irqs of them) have
// passed on the clock since the last poll that found work. So a gap in the
// traffic shorter than that costs no interrupt, and a quiet link costs one
// interrupt and about DeferHardIRQs timer wake-ups per burst.
//
// The hysteresis is a deadline on the clock, not a count of empty polls,
// because the wait can overshoot: under TCG a Go timer asked for 50 µs
// fires about 1 ms late, and at 1000 frames/s such a wait always finds the
// next frame, so a count of empty polls in a row never completes and the
// thread never goes back to interrupts. Here a poll that finds work later
// than FlushTimeout past the deadline (the kernel's hrtimer would have
// re-armed by then) handles the work but does not postpone the re-arm:
// a late wake-up costs at most one interrupt more, never a stream of
// polling. The wait itself is a raw clock_nanosleep on the thread
// (adaptive_linux.go): in the lab (TCG) a 50 µs wait took 131 µs at the
// median that way, against 1.24 ms as time.Sleep.
//
// At light load (frames further apart than that window) the runs re-arm at
// their first empty poll, and poll on the top half's thread when it runs on
// the executor's CPU: adaptive_light.go.
//
// IRQSuspendTimeout (irq_suspend_timeout) bounds one stretch of
// back-to-back polling: after it the thread yields its core for one
// FlushTimeout even if work is waiting, so that a flood cannot keep a
// SCHED_OTHER neighbour off the core indefinitely; interrupts stay off.
//
// The thread runs SCHED_OTHER (ThreadPrio > 0 makes it SCHED_FIFO): under
// load it spins like the busy poller and must not starve the core.

// Adaptive defaults, used when the ExecutorOptions fields are zero.
const (
	DefaultAdaptiveDeferHardIRQs = 2
	DefaultAdaptiveFlushTimeout  = 50 * time.Microsecond
	DefaultIRQSuspendTimeout     = 20 * time.Millisecond
	// AdaptiveQuietIRQs is how many interrupts in a row must come more
	// than DeferHardIRQs x FlushTimeout after the last work before the
	// runs re-arm at their first empty poll (light load, above), and
	// AdaptiveBusyIRQs how many in a row within it bring the deferral back.
	AdaptiveQuietIRQs = 4
	AdaptiveBusyIRQs  = 2
)

// AdaptiveStats are an adaptive executor's counters.
type AdaptiveStats struct {
	Wakeups    uint64 // runs started by Schedule (an interrupt)
	Polls      uint64 // every Poll call
	EmptyPolls uint64 // polls that found nothing (each followed by a wait of up to FlushTimeout, or a re-arm)
	Waits      uint64 // the waits after empty polls (gro_flush_timeout timer wake-ups)
	Rearms     uint64 // Reenable calls: back to interrupts
	Yields     uint64 // busy stretches cut by IRQSuspendTimeout
	// LateWork counts polls that found work although they started more
	// than FlushTimeout after the re-arm deadline (a wait that overshot):
	// they did not postpone the re-arm.
	LateWork uint64
	// QuickRearms counts the re-arms at a run's first empty poll, with no
	// wait: light load (AdaptiveQuietIRQs), inline runs included.
	QuickRearms uint64
	// InlineRuns counts the light-load runs made on the top half's thread
	// (adaptive_light.go); Wakeups counts the thread's runs only.
	InlineRuns uint64
}

type adaptiveExec struct {
	t   *irqThread
	clk adaptiveClock

	poll     func(budget int) int
	reenable func()
	weight   int
	flush    time.Duration // gro_flush_timeout
	window   time.Duration // DeferHardIRQs x flush: quiet time before the re-arm
	suspend  time.Duration // irq_suspend_timeout

	// irqAt is the clock at the last Schedule (the interrupt), written by
	// the top half and read by the run.
	irqAt atomic.Int64
	// state says who polls: adaptIdle, adaptThread or adaptInline
	// (adaptive_light.go). The fields below it up to quick belong to
	// whoever holds it.
	state atomic.Int32
	// lastWork is the clock after the last poll that found work; slow and
	// fast count the interrupts in a row that came more (slow) or less
	// (fast) than window after it; handedOver marks a run that an inline
	// run passed on (its interrupt is counted).
	lastWork   time.Duration
	slow, fast int
	handedOver bool
	// quick is the light-load state: written by the poll's holder, read by
	// Schedule.
	quick atomic.Bool
	// cpu is the CPU whose top-half thread may poll inline (nil: never).
	cpu *CPU
	// alwaysDefer turns the light-load state off (the deferral alone) and
	// noInline the inline runs: the baselines of BenchmarkAdaptivePaced.
	// Set before the first Schedule.
	alwaysDefer, noInline bool

	closed  atomic.Bool
	inline  atomic.Uint64
	quickN  atomic.Uint64
	waits   atomic.Uint64
	wakeups atomic.Uint64
	polls   atomic.Uint64
	empty   atomic.Uint64
	rearms  atomic.Uint64
	yields  atomic.Uint64
	late    atomic.Uint64
}

var _ Executor = (*adaptiveExec)(nil)

func newAdaptiveExec(o ExecutorOptions, reenable func()) (*adaptiveExec, error) {
	return newAdaptiveExecClock(o, reenable, hrSleeper{})
}

// newAdaptiveExecClock is newAdaptiveExec on the clock clk (tests: a fake).
func newAdaptiveExecClock(o ExecutorOptions, reenable func(), clk adaptiveClock) (*adaptiveExec, error) {
	deferIRQs, flush, suspend := o.DeferHardIRQs, o.FlushTimeout, o.IRQSuspendTimeout
	if deferIRQs < 0 || flush < 0 || suspend < 0 {
		return nil, fmt.Errorf("deferral: adaptive: negative DeferHardIRQs %d, FlushTimeout %v or IRQSuspendTimeout %v", deferIRQs, flush, suspend)
	}
	if deferIRQs == 0 {
		deferIRQs = DefaultAdaptiveDeferHardIRQs
	}
	if flush == 0 {
		flush = DefaultAdaptiveFlushTimeout
	}
	if suspend == 0 {
		suspend = DefaultIRQSuspendTimeout
	}
	e := &adaptiveExec{clk: clk, poll: o.Poll, reenable: reenable, weight: o.Weight, cpu: o.CPU,
		flush: flush, window: time.Duration(deferIRQs) * flush, suspend: suspend}
	a := rt.ThreadAttrs{Name: "adapt-" + o.Name, CPU: o.CPU.core, Sched: threadClass(rt.Sched{}, o.ThreadPrio, 0)}
	setup := true
	t, err := newIRQThreadAttrs(a, func() {
		if setup { // on the thread, before its first run
			setup = false
			e.clk.setup()
		}
		e.run()
	})
	if err != nil {
		return nil, err
	}
	e.t = t
	return e, nil
}

// run is one run of the thread, from an interrupt to the re-arm. It does
// not allocate.
func (e *adaptiveExec) run() {
	if !e.state.CompareAndSwap(adaptIdle, adaptThread) && e.state.Load() != adaptThread {
		return // a wake that merged into an inline run, which polls and re-arms
	}
	e.wakeups.Add(1)
	clk := e.clk
	if e.handedOver {
		e.handedOver = false
	} else {
		e.noteIRQ()
	}
	start := clk.now()           // of this stretch of back-to-back polls
	deadline := start + e.window // re-arm when no poll finds work before it
	waited := false              // since the last poll that found work
	for !e.closed.Load() {
		t := clk.now()
		e.polls.Add(1)
		if e.poll(e.weight) > 0 {
			now := clk.now()
			e.lastWork = now
			if t <= deadline+e.flush {
				deadline = now + e.window // as napi_complete_done arms the timer after the poll
				if waited {
					e.slow = 0 // a wait found work in time: the deferral pays
				}
			} else {
				e.late.Add(1)
			}
			waited = false
			if now-start < e.suspend {
				continue
			}
			e.yields.Add(1)
			clk.sleep(e.flush)
			start = clk.now()
			continue
		}
		e.empty.Add(1)
		if e.quick.Load() {
			e.quickN.Add(1)
			break
		}
		now := clk.now()
		if now >= deadline {
			break
		}
		e.waits.Add(1)
		clk.sleep(min(e.flush, deadline-now))
		waited = true
		start = clk.now()
	}
	e.rearms.Add(1)
	e.reenable()
	// Released after the re-arm: an interrupt in between finds the thread
	// still holding the poll and wakes it again (one more run).
	e.state.Store(adaptIdle)
}

func (e *adaptiveExec) Mode() Mode { return ModeAdaptive }
func (e *adaptiveExec) Close() error {
	e.closed.Store(true)
	e.t.stopAndWait()
	return nil
}

// Stats reads the counters.
func (e *adaptiveExec) Stats() AdaptiveStats {
	return AdaptiveStats{Wakeups: e.wakeups.Load(), Polls: e.polls.Load(), EmptyPolls: e.empty.Load(), Waits: e.waits.Load(),
		Rearms: e.rearms.Load(), Yields: e.yields.Load(), LateWork: e.late.Load(), QuickRearms: e.quickN.Load(),
		InlineRuns: e.inline.Load()}
}

// AdaptiveStatsOf returns the counters of an adaptive executor; ok is false
// for other executors.
func AdaptiveStatsOf(x Executor) (s AdaptiveStats, ok bool) {
	if e, is := x.(*adaptiveExec); is {
		return e.Stats(), true
	}
	return AdaptiveStats{}, false
}
