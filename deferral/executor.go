package deferral

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/rt"
)

// Executor runs a driver's bottom half in one Mode. The driver's top half
// (an IRQ handler on CPU) harvests the device and calls Schedule; the
// executor then calls Poll(budget) in its mode's context until Poll returns
// less than the budget, and then calls Reenable.
type Executor interface {
	// Mode is the mechanism this executor uses.
	Mode() Mode
	// Schedule asks for the bottom half to run. Schedules before it runs merge
	// into one run; a Schedule during a run gives one more run. It does not
	// allocate. It is a no-op for ModeBusyPoll. Call it from the CPU's top
	// half (an IRQ handler): called from elsewhere, tasklet, softirq and
	// NAPI bottom halves run in the CPU's ksoftirqd instead, as in the kernel.
	Schedule()
	// Close stops the executor and waits for a running bottom half. Idempotent.
	Close() error
}

// ExecutorOptions configures NewExecutor.
type ExecutorOptions struct {
	Mode Mode
	// CPU is the context whose top half calls Schedule. Tasklet, softirq and
	// NAPI bottom halves run on it; workqueue, threaded and busy-poll threads
	// are pinned to its core. Required.
	CPU *CPU
	// Poll does up to budget units of work and returns how many. Required.
	Poll func(budget int) int
	// Reenable is called after a Poll that did less than its budget: there is
	// nothing left, let the source interrupt again. Optional; never called in
	// ModeBusyPoll.
	Reenable func()
	// Weight is the budget of one Poll; 0 means NAPIPollWeight (64). A Poll
	// that uses it all is followed by another: a tasklet reschedules itself,
	// a softirq re-raises itself, a work item re-queues itself (each going
	// through its mechanism again); a thread or busy poller simply loops.
	Weight int
	// Name names the threads (threaded, busypoll, workqueue).
	Name string
	// Softirq is ModeSoftirq's vector; the zero value (HI, always taken by
	// tasklets) means NetRXSoftirq.
	Softirq Softirq
	// Workqueue is ModeWorkqueue's queue; nil means a private bound WQHighPri
	// queue, closed with the executor.
	Workqueue *Workqueue
	// ThreadPrio is ModeThreaded's SCHED_FIFO priority: 0 means 50, -1 SCHED_OTHER.
	ThreadPrio int
	// Sched, unless zero, is the scheduling class of ModeThreaded's IRQ
	// thread or of the workers of ModeWorkqueue's private queue (it replaces
	// ThreadPrio and the nice -20 of WQHighPri). Under SCHED_DEADLINE the
	// thread is not pinned to CPU's core (see rt.Sched) and the private queue is
	// unbound with a single worker: one reservation bounds the bottom half's
	// share of the CPU. Other modes run their bottom half on the top half's
	// thread (CPUOptions.RTPrio) or spin (busy poll): Sched is refused there.
	Sched rt.Sched
	// DeferHardIRQs and FlushTimeout are ModeNAPI's and ModeAdaptive's
	// interrupt deferral (napi_defer_hard_irqs, gro_flush_timeout), and
	// IRQSuspendTimeout ModeAdaptive's irq_suspend_timeout (adaptive.go;
	// zero values there mean its defaults).
	DeferHardIRQs     int
	FlushTimeout      time.Duration
	IRQSuspendTimeout time.Duration
	// Inline, in ModeThreaded, runs the IRQ thread function on CPU's
	// top-half thread after the primary handlers instead of on a thread of
	// its own (inline.go): one thread waits on the interrupt and does all
	// its work, as the kernel's irq_thread for a NULL primary with
	// IRQF_ONESHOT. Sched then only sizes the deadline self-enforcement:
	// the thread's class is CPU's (CPUOptions.Sched); ThreadPrio must be 0.
	// In ModeWorkqueue the top-half thread is the queue's single worker
	// (workqueue_inline.go): the work item runs once per round, after the
	// primary handlers; Workqueue must be nil.
	Inline bool
}

// NewExecutor builds the bottom half of o.Mode around o.Poll.
func NewExecutor(o ExecutorOptions) (Executor, error) {
	if o.CPU == nil || o.Poll == nil {
		return nil, errors.New("deferral: NewExecutor needs CPU and Poll")
	}
	if o.Weight <= 0 {
		o.Weight = NAPIPollWeight
	}
	if o.Name == "" {
		o.Name = o.Mode.String()
	}
	reenable := o.Reenable
	if reenable == nil {
		reenable = func() {}
	}
	if err := checkExecSched(&o); err != nil {
		return nil, err
	}
	if o.Inline && o.Mode != ModeThreaded && o.Mode != ModeWorkqueue {
		return nil, fmt.Errorf("deferral: Inline applies to ModeThreaded and ModeWorkqueue, not %v", o.Mode)
	}
	switch o.Mode {
	case ModeTasklet:
		e := &taskletExec{c: o.CPU}
		e.t = NewTasklet(func() {
			if o.Poll(o.Weight) >= o.Weight && !e.closed.Load() {
				e.t.Schedule(e.c)
			} else {
				reenable()
			}
		})
		return e, nil
	case ModeSoftirq:
		nr := o.Softirq
		if nr == HISoftirq {
			nr = NetRXSoftirq
		}
		e := &softirqExec{c: o.CPU, nr: nr}
		if err := o.CPU.OpenSoftirq(nr, func() {
			if o.Poll(o.Weight) >= o.Weight && !e.closed.Load() {
				e.c.RaiseSoftirq(e.nr)
			} else {
				reenable()
			}
		}); err != nil {
			return nil, err
		}
		return e, nil
	case ModeWorkqueue:
		if o.Inline {
			return newInlineExec(o, reenable)
		}
		e := &workExec{wq: o.Workqueue, cpu: o.CPU.core}
		if e.wq == nil {
			wq, err := newExecWorkqueue(o.Name, o.Sched)
			if err != nil {
				return nil, err
			}
			e.wq, e.own = wq, true
		}
		var w *Work
		run := workItem(o, &e.closed, func() { QueueWorkOn(e.cpu, e.wq, w) }, reenable)
		w = NewWork(func(*Work) { run() })
		e.w = w
		return e, nil
	case ModeThreaded:
		if o.Inline {
			return newInlineExec(o, reenable)
		}
		prio := o.ThreadPrio
		switch {
		case prio == 0:
			prio = DefaultIRQThreadPrio
		case prio < 0:
			prio = 0
		}
		e := &threadExec{}
		a := rt.ThreadAttrs{Name: fmt.Sprintf("irq/%d-%s", irqNumbers.Add(1), o.Name), CPU: o.CPU.core, Sched: threadClass(o.Sched, prio, 0)}
		t, err := newIRQThreadAttrs(a, threadedPoll(o, &e.closed, reenable))
		if err != nil {
			return nil, err
		}
		e.t = t
		return e, nil
	case ModeNAPI:
		n, err := o.CPU.NewNAPI(o.Poll, NAPIOptions{Weight: o.Weight, Reenable: o.Reenable, DeferHardIRQs: o.DeferHardIRQs, FlushTimeout: o.FlushTimeout})
		if err != nil {
			return nil, err
		}
		return &napiExec{n: n}, nil
	case ModeAdaptive:
		return newAdaptiveExec(o, reenable)
	case ModeBusyPoll:
		p, err := NewBusyPoller(o.CPU.core, o.Name, o.Weight, o.Poll)
		if err != nil {
			return nil, err
		}
		return &busyExec{p: p}, nil
	}
	return nil, fmt.Errorf("deferral: NewExecutor: invalid mode %v", o.Mode)
}

type taskletExec struct {
	t      *Tasklet
	c      *CPU
	closed atomic.Bool
	once   sync.Once
}

var _ Executor = (*taskletExec)(nil)

func (e *taskletExec) Mode() Mode { return ModeTasklet }
func (e *taskletExec) Schedule()  { e.t.Schedule(e.c) }
func (e *taskletExec) Close() error {
	e.once.Do(func() { e.closed.Store(true); e.t.Kill() })
	return nil
}

type softirqExec struct {
	c      *CPU
	nr     Softirq
	closed atomic.Bool
	once   sync.Once
}

func (e *softirqExec) Mode() Mode { return ModeSoftirq }
func (e *softirqExec) Schedule()  { e.c.RaiseSoftirq(e.nr) }
func (e *softirqExec) Close() error {
	e.once.Do(func() {
		e.closed.Store(true)
		// Wait for a running action (softirqs of a CPU are serialized by
		// softirqMu), then close the vector.
		e.c.softirqMu.Lock()
		e.c.vec[e.nr].Store(nil)
		e.c.softirqMu.Unlock()
	})
	return nil
}

type workExec struct {
	wq     *Workqueue
	own    bool
	cpu    int
	w      *Work
	closed atomic.Bool
	once   sync.Once
}

func (e *workExec) Mode() Mode { return ModeWorkqueue }
func (e *workExec) Schedule()  { QueueWorkOn(e.cpu, e.wq, e.w) }
func (e *workExec) Close() error {
	e.once.Do(func() {
		e.closed.Store(true)
		CancelWorkSync(e.w)
		if e.own {
			e.wq.Close()
		}
	})
	return nil
}

type threadExec struct {
	t      *irqThread
	closed atomic.Bool
}

func (e *threadExec) Mode() Mode { return ModeThreaded }
func (e *threadExec) Schedule()  { e.t.wake() }
func (e *threadExec) Close() error {
	e.closed.Store(true)
	e.t.stopAndWait()
	return nil
}

// TID is the thread's TID (for tests and tools).
func (e *threadExec) TID() int { return e.t.tid }

type napiExec struct {
	n    *NAPI
	once sync.Once
}

func (e *napiExec) Mode() Mode { return ModeNAPI }
func (e *napiExec) Schedule()  { e.n.Schedule() }
func (e *napiExec) Close() error {
	e.once.Do(func() {
		if e.n.c.stopping.Load() {
			e.n.state.Or(napiDisable)
			return
		}
		e.n.Disable()
	})
	return nil
}

type busyExec struct{ p *BusyPoller }

func (e *busyExec) Mode() Mode   { return ModeBusyPoll }
func (e *busyExec) Schedule()    {}
func (e *busyExec) Close() error { return e.p.Close() }

var (
	_ Executor = (*softirqExec)(nil)
	_ Executor = (*workExec)(nil)
	_ Executor = (*threadExec)(nil)
	_ Executor = (*napiExec)(nil)
	_ Executor = (*busyExec)(nil)
)

// workItem is the workqueue executor's work item, queued on a pool's worker
// or run inline on the top half's thread: one Poll of the weight (under a
// deadline class, of what the self-enforcement's budget allows); a run that
// used it all re-queues the item (requeue), one that fell short re-enables
// the source (under a deadline class, only one that found nothing: one
// that found some waits for the next period and re-queues); closed stops
// the re-queueing. One thread runs the item at a
// time, so its state needs no lock.
func workItem(o ExecutorOptions, closed *atomic.Bool, requeue, reenable func()) func() {
	budget := rt.NewBudget(o.Sched)
	idle := true // the last run drained the source
	return func() {
		if idle {
			budget.Start()
		}
		n := o.Poll(o.Weight)
		budget.Done()
		idle = n < o.Weight
		switch {
		case !idle && !closed.Load():
			requeue()
		case n > 0 && !closed.Load() && budget.NextPeriod():
			// A deadline item that found work polls again next period,
			// the interrupt still masked (rt.Budget.NextPeriod).
			idle = false
			requeue()
		default:
			reenable()
		}
	}
}

// threadedPoll is the threaded IRQ's thread function, on its own thread or
// inline on the top half's: poll in weight-sized rounds (under a deadline
// class, rounds the self-enforcement's budget allows) until a round comes
// back short (under a deadline class, empty), then re-enable the interrupt;
// closed stops it between rounds.
func threadedPoll(o ExecutorOptions, closed *atomic.Bool, reenable func()) func() {
	budget := rt.NewBudget(o.Sched)
	return func() {
		budget.Start()
		for {
			n := o.Poll(o.Weight)
			budget.Done()
			// A deadline thread whose round found work waits for its next
			// period and polls again, the interrupt still masked
			// (rt.Budget.NextPeriod); an empty round re-enables it.
			if n < o.Weight && (n == 0 || !budget.NextPeriod()) {
				break
			}
			if closed.Load() {
				return
			}
		}
		reenable()
	}
}
