package deferral

import (
	"errors"
	"sync"
	"sync/atomic"
)

// The single-thread threaded IRQ (ExecutorOptions.Inline): the IRQ thread
// waits on the interrupt itself.
//
// With VFIO the kernel's vfio-pci handler is already the hard part of a
// threaded IRQ with a NULL primary and IRQF_ONESHOT: it masks the line and
// signals the eventfd. Inline makes the CPU's top-half thread the IRQ
// thread: after the primary handlers of an epoll round it runs the thread
// function of every inline executor whose RUNTHREAD is set, on the same OS
// thread, so one thread and one scheduling class (one SCHED_DEADLINE
// reservation) carry the whole interrupt, as irq_thread does for such an
// IRQ. Give the CPU the bottom half's class (CPUOptions.Sched: the IRQ
// thread's), else the thread function runs at the top half's priority.

// inlineThread is an IRQ thread function, or a work item (work), run on a
// CPU's top-half thread.
type inlineThread struct {
	c  *CPU
	fn func()
	// work: a work item (workqueue_inline.go): it runs once per round of the
	// top half, and one that re-queued itself waits for the next round.
	work    bool
	runFlag atomic.Bool // IRQTF_RUNTHREAD; a work item's WORK_STRUCT_PENDING
	runs    atomic.Uint64
}

// wake is irq_wake_thread: set RUNTHREAD; from another thread, also wake the
// top half (it runs the function after its next epoll round). It does not
// allocate.
func (t *inlineThread) wake() {
	if !t.runFlag.Swap(true) && gettid() != t.c.tid {
		t.c.kick()
	}
}

// runInline runs the inline IRQ threads whose RUNTHREAD is set, each until
// it stays clear (wakes during a run merge into one more run). Top-half
// thread only, after the primary handlers.
func (c *CPU) runInline() {
	for _, t := range c.inline {
		if t.work {
			if t.runFlag.Swap(false) {
				t.fn()
				t.runs.Add(1)
				if t.runFlag.Load() {
					// Re-queued by itself (wake skips the kick on this
					// thread): the next epoll_wait returns at once, after
					// the interrupts that came meanwhile have been handled.
					eventfdSignal(c.kickfd)
				}
			}
			continue
		}
		for t.runFlag.Swap(false) {
			t.fn()
			t.runs.Add(1)
		}
	}
}

// addInline registers fn as an inline IRQ thread of c, or with work as an
// inline work item.
func (c *CPU) addInline(fn func(), work bool) (*inlineThread, error) {
	t := &inlineThread{c: c, fn: fn, work: work}
	if err := c.exec(func() { c.inline = append(c.inline, t) }); err != nil {
		return nil, err
	}
	return t, nil
}

// removeInline unregisters t; it returns after a running t.fn has returned
// (exec runs between rounds of the top half), as kthread_stop does.
func (c *CPU) removeInline(t *inlineThread) {
	_ = c.exec(func() {
		for i, x := range c.inline {
			if x == t {
				c.inline = append(c.inline[:i], c.inline[i+1:]...)
				break
			}
		}
	})
}

// inlineExec is ModeThreaded with ExecutorOptions.Inline.
type inlineExec struct {
	t      *inlineThread
	closed atomic.Bool
	once   sync.Once
}

var _ Executor = (*inlineExec)(nil)

func (e *inlineExec) Mode() Mode { return ModeThreaded }
func (e *inlineExec) Schedule()  { e.t.wake() }
func (e *inlineExec) Close() error {
	e.once.Do(func() {
		e.closed.Store(true)
		e.t.c.removeInline(e.t)
	})
	return nil
}

// TID is the thread's TID: the CPU's top half.
func (e *inlineExec) TID() int { return e.t.c.tid }

// Runs is the number of times the thread function ran.
func (e *inlineExec) Runs() uint64 { return e.t.runs.Load() }

// newInlineExec builds the single-thread threaded executor: the same thread
// function as a threaded executor's (polls until one falls short of the
// weight, then Reenable; under SCHED_DEADLINE the self-enforcement's yield),
// on o.CPU's top-half thread.
func newInlineExec(o ExecutorOptions, reenable func()) (Executor, error) {
	if o.Mode == ModeWorkqueue {
		return newInlineWork(o, reenable)
	}
	if o.Mode != ModeThreaded {
		return nil, errors.New("deferral: Inline applies to ModeThreaded and ModeWorkqueue (the thread is the top half's)")
	}
	if o.ThreadPrio != 0 {
		return nil, errors.New("deferral: Inline runs the thread at its CPU's class (CPUOptions.Sched): drop ThreadPrio")
	}
	e := &inlineExec{}
	t, err := o.CPU.addInline(threadedPoll(o, &e.closed, reenable), false)
	if err != nil {
		return nil, err
	}
	e.t = t
	return e, nil
}
