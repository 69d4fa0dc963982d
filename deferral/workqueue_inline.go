package deferral

import (
	"errors"
	"sync"
	"sync/atomic"
)

// The single-thread workqueue (ModeWorkqueue with ExecutorOptions.Inline):
// the CPU's top-half thread is the queue's only worker. It waits on the
// interrupt fds, runs the primary handlers, and then, on the same OS thread
// and in process context, the work item they queued. One thread and one
// scheduling class (CPUOptions.Sched: the worker's, nice -20 or a deadline
// reservation) carry the whole interrupt. The kernel's threaded IRQ has this
// shape (irq_thread for a NULL primary with IRQF_ONESHOT); its workqueues do
// not, because a kernel worker never waits for the interrupt. What of the
// workqueue's semantics holds on one thread, and what does not:
//
// Kept:
//   - queue_work's PENDING bit: Schedule on a pending item is a no-op (calls
//     merge), and one during a run gives one more run;
//   - non-reentrance: the item never runs concurrently with itself;
//   - a run is one Poll of the weight, and an item that used it all re-queues
//     itself and runs again after what came meanwhile, as a re-queued item
//     goes to the tail of its pool's worklist: here the top half's loop goes
//     round once more (epoll_wait returns at once), so other interrupts of
//     the CPU are handled between runs. The threaded IRQ's thread, inline or
//     not, instead polls until a round falls short;
//   - process context: the item may sleep, and the deadline bottom half's
//     self-enforcement (rt.Budget) yields as a worker's does;
//   - cancel_work_sync: Close returns after a running item has returned.
//
// Given up:
//   - the hard IRQ above the worker: while the item runs (or sleeps) no
//     interrupt of its CPU is taken. For the item's own device that is
//     ONESHOT (the light top half keeps the line masked until the item
//     re-enables it); for other devices on the same CPU it is latency;
//   - concurrency management and max_active: one worker, so an item that
//     sleeps holds up everything of its CPU, where a pool would start
//     another worker;
//   - a shared queue: the item belongs to its CPU, not to a Workqueue
//     (ExecutorOptions.Workqueue must be nil), so there are no other items,
//     no delayed work and no flush_workqueue on it;
//   - the workqueue's own class apart from the interrupt's: the whole
//     interrupt runs at the worker's class, which is the point.

// inlineWork is the executor: one work item on its CPU's top-half thread.
type inlineWork struct {
	t      *inlineThread
	closed atomic.Bool
	once   sync.Once
}

var _ Executor = (*inlineWork)(nil)

func (e *inlineWork) Mode() Mode { return ModeWorkqueue }

// Schedule is queue_work: it sets PENDING; an item already pending stays
// queued once (the calls merge), one that runs gets one more run. From
// another thread it also wakes the worker (the top half). It does not
// allocate.
func (e *inlineWork) Schedule() { e.t.wake() }

// Close is cancel_work_sync: no run starts after it, and it returns once a
// running item has returned (the item is removed between rounds of the top
// half). Idempotent.
func (e *inlineWork) Close() error {
	e.once.Do(func() {
		e.closed.Store(true)
		e.t.c.removeInline(e.t)
	})
	return nil
}

// TID is the worker's TID: the CPU's top half.
func (e *inlineWork) TID() int { return e.t.c.tid }

// Runs is the number of times the work item ran.
func (e *inlineWork) Runs() uint64 { return e.t.runs.Load() }

// newInlineWork builds the single-thread workqueue executor. Its work item
// is the one a workqueue executor queues (workExec in executor.go): one Poll
// of the weight per run (under SCHED_DEADLINE, the self-enforcement's
// budget), and a run that used it all re-queues the item, which runs again
// in the top half's next round, after the interrupts that came meanwhile,
// as a re-queued item goes to the tail of its pool's worklist; a run that
// falls short re-enables the source.
func newInlineWork(o ExecutorOptions, reenable func()) (Executor, error) {
	if o.Workqueue != nil {
		return nil, errors.New("deferral: Inline workqueue runs its item on its CPU's top-half thread, not on a queue's workers: drop Workqueue")
	}
	if o.ThreadPrio != 0 {
		return nil, errors.New("deferral: Inline runs the worker at its CPU's class (CPUOptions.Sched): drop ThreadPrio")
	}
	e := &inlineWork{}
	// Re-queue: runInline kicks the top half for another round.
	fn := workItem(o, &e.closed, func() { e.t.runFlag.Store(true) }, reenable)
	t, err := o.CPU.addInline(fn, true)
	if err != nil {
		return nil, err
	}
	e.t = t
	return e, nil
}
