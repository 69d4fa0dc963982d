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
// reservation) carry the whole interrupt. doc.go ("A single-thread
// workqueue") says what of the kernel's workqueue semantics it keeps and
// what it gives up.

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
