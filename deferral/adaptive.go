package deferral

import (
	"fmt"
	"sync/atomic"
	"time"
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
// interrupt), up to DeferHardIRQs empty polls in a row (napi_defer_hard_irqs),
// and only then calls Reenable and sleeps until the next interrupt. So a
// gap in the traffic shorter than DeferHardIRQs x FlushTimeout costs no
// interrupt, and a quiet link costs one interrupt and DeferHardIRQs timer
// wake-ups per burst. IRQSuspendTimeout (irq_suspend_timeout) bounds one
// stretch of back-to-back polling: after it the thread yields its core for
// one FlushTimeout even if work is waiting, so that a flood cannot keep a
// SCHED_OTHER neighbour off the core indefinitely; interrupts stay off.
//
// The thread runs SCHED_OTHER (ThreadPrio > 0 makes it SCHED_FIFO): under
// load it spins like the busy poller and must not starve the core.

// Adaptive defaults, used when the ExecutorOptions fields are zero.
const (
	DefaultAdaptiveDeferHardIRQs = 2
	DefaultAdaptiveFlushTimeout  = 50 * time.Microsecond
	DefaultIRQSuspendTimeout     = 20 * time.Millisecond
)

// AdaptiveStats are an adaptive executor's counters.
type AdaptiveStats struct {
	Wakeups    uint64 // runs started by Schedule (an interrupt)
	Polls      uint64 // every Poll call
	EmptyPolls uint64 // polls that found nothing (each followed by a FlushTimeout wait or a re-arm)
	Rearms     uint64 // Reenable calls: back to interrupts
	Yields     uint64 // busy stretches cut by IRQSuspendTimeout
}

type adaptiveExec struct {
	t       *irqThread
	closed  atomic.Bool
	wakeups atomic.Uint64
	polls   atomic.Uint64
	empty   atomic.Uint64
	rearms  atomic.Uint64
	yields  atomic.Uint64
}

var _ Executor = (*adaptiveExec)(nil)

func newAdaptiveExec(o ExecutorOptions, reenable func()) (*adaptiveExec, error) {
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
	prio := max(o.ThreadPrio, 0)
	e := &adaptiveExec{}
	a := threadAttrs{name: "adapt-" + o.Name, cpu: o.CPU.core, rtPrio: prio}
	t, err := newIRQThreadAttrs(a, func() {
		e.wakeups.Add(1)
		left := deferIRQs
		start := time.Now()
		for !e.closed.Load() {
			e.polls.Add(1)
			if o.Poll(o.Weight) > 0 {
				left = deferIRQs
				if time.Since(start) < suspend {
					continue
				}
				e.yields.Add(1)
				time.Sleep(flush)
				start = time.Now()
				continue
			}
			e.empty.Add(1)
			if left == 0 {
				break
			}
			left--
			time.Sleep(flush)
			start = time.Now()
		}
		e.rearms.Add(1)
		reenable()
	})
	if err != nil {
		return nil, err
	}
	e.t = t
	return e, nil
}

func (e *adaptiveExec) Mode() Mode { return ModeAdaptive }
func (e *adaptiveExec) Schedule()  { e.t.wake() }
func (e *adaptiveExec) Close() error {
	e.closed.Store(true)
	e.t.stopAndWait()
	return nil
}

// Stats reads the counters.
func (e *adaptiveExec) Stats() AdaptiveStats {
	return AdaptiveStats{Wakeups: e.wakeups.Load(), Polls: e.polls.Load(), EmptyPolls: e.empty.Load(),
		Rearms: e.rearms.Load(), Yields: e.yields.Load()}
}

// AdaptiveStatsOf returns the counters of an adaptive executor; ok is false
// for other executors.
func AdaptiveStatsOf(x Executor) (s AdaptiveStats, ok bool) {
	if e, is := x.(*adaptiveExec); is {
		return e.Stats(), true
	}
	return AdaptiveStats{}, false
}
