package deferral

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/rt"
)

// IRQ is an interrupt source as the top half sees it: an fd that becomes
// readable when the interrupt fires (a VFIO or test eventfd, a UIO fd), and
// optional device-level mask and unmask callbacks (a NIC's IMC/IMS writes, a
// VFIO_IRQ_SET_ACTION_UNMASK). Whatever the callbacks do, the top half also
// masks the line in software by removing the fd from its epoll set: events
// that arrive while masked stay in the eventfd counter and fire once on
// unmask, as a pending level-triggered line does.
type IRQ struct {
	Fd     int
	Ack    func() error // consumes the event; nil reads the 8-byte eventfd counter
	Mask   func()       // optional; called on the first mask (disable_irq/ONESHOT)
	Unmask func()       // optional; called on the last unmask
}

// IRQReturn is what a handler returns (irqreturn_t).
type IRQReturn int

const (
	IRQNone       IRQReturn = iota // IRQ_NONE: not ours
	IRQHandled                     // IRQ_HANDLED
	IRQWakeThread                  // IRQ_WAKE_THREAD: run the threaded handler
)

func (r IRQReturn) String() string {
	switch r {
	case IRQNone:
		return "IRQ_NONE"
	case IRQHandled:
		return "IRQ_HANDLED"
	case IRQWakeThread:
		return "IRQ_WAKE_THREAD"
	}
	return fmt.Sprintf("IRQReturn(%d)", int(r))
}

// IRQFlags are request flags (IRQF_*).
type IRQFlags uint

const (
	// IRQFOneshot is IRQF_ONESHOT: the line stays masked from before the
	// primary handler until the thread function returns.
	IRQFOneshot IRQFlags = 1 << iota
)

// ThreadedIRQOptions configures the thread of RequestThreadedIRQ.
type ThreadedIRQOptions struct {
	Flags IRQFlags
	// ThreadPrio is the thread's SCHED_FIFO priority; 0 means 50
	// (MAX_RT_PRIO/2, what the kernel gives irq threads); -1 means SCHED_OTHER.
	ThreadPrio int
}

// DefaultIRQThreadPrio is the SCHED_FIFO priority of irq threads (setup_irq_thread).
const DefaultIRQThreadPrio = 50

// IRQAction is a requested interrupt (struct irqaction with its irq_desc).
type IRQAction struct {
	c       *CPU
	num     int
	name    string
	irq     IRQ
	handler func() IRQReturn
	flags   IRQFlags
	thread  *irqThread
	slot    int

	mu       sync.Mutex // guards depth, oneshot, masked: the line's mask state
	depth    int        // disable_irq nesting
	oneshot  bool       // masked by ONESHOT until the thread finishes
	masked   bool
	count    atomic.Uint64
	spurious atomic.Uint64 // IRQ_NONE returns (note_interrupt's unhandled count)
	handlerT atomic.Int64  // ns spent in the primary handler, summed
	freeOnce sync.Once
}

var irqNumbers atomic.Int32

// RequestIRQ installs handler as the hard-IRQ handler of irq on c (request_irq).
// The handler runs on c's top-half thread; see doc.go for what it may do.
func (c *CPU) RequestIRQ(irq IRQ, handler func() IRQReturn, name string) (*IRQAction, error) {
	if handler == nil {
		return nil, errors.New("deferral: RequestIRQ with nil handler")
	}
	return c.requestIRQ(irq, handler, nil, ThreadedIRQOptions{}, name)
}

// RequestThreadedIRQ is request_threaded_irq. The primary handler runs in hard-IRQ
// context and returns IRQWakeThread to run threadFn in the IRQ's thread: a
// SCHED_FIFO (50) thread named "irq/<n>-<name>", pinned to c's core. A nil
// handler means "always wake the thread" and requires IRQFOneshot, as in the
// kernel (a level interrupt would otherwise fire again before the thread ran).
func (c *CPU) RequestThreadedIRQ(irq IRQ, handler, threadFn func() IRQReturn, opts ThreadedIRQOptions, name string) (*IRQAction, error) {
	if threadFn == nil {
		if handler == nil {
			return nil, errors.New("deferral: RequestThreadedIRQ with nil handler and nil thread function")
		}
		return c.requestIRQ(irq, handler, nil, opts, name)
	}
	if handler == nil {
		if opts.Flags&IRQFOneshot == 0 {
			return nil, fmt.Errorf("deferral: threaded irq %q requested with nil primary handler and without IRQFOneshot", name)
		}
		handler = func() IRQReturn { return IRQWakeThread } // irq_default_primary_handler
	}
	return c.requestIRQ(irq, handler, threadFn, opts, name)
}

func (c *CPU) requestIRQ(irq IRQ, handler, threadFn func() IRQReturn, opts ThreadedIRQOptions, name string) (*IRQAction, error) {
	a := &IRQAction{c: c, num: int(irqNumbers.Add(1)), name: name, irq: irq, handler: handler, flags: opts.Flags}
	if threadFn != nil {
		prio := opts.ThreadPrio
		switch {
		case prio == 0:
			prio = DefaultIRQThreadPrio
		case prio < 0:
			prio = 0
		}
		t, err := newIRQThread(fmt.Sprintf("irq/%d-%s", a.num, name), c.core, prio, func() { threadFn() })
		if err != nil {
			return nil, fmt.Errorf("irq %d %q: %w", a.num, name, err)
		}
		if opts.Flags&IRQFOneshot != 0 {
			t.after = a.finalizeOneshot
		}
		a.thread = t
	}
	var err error
	xerr := c.exec(func() {
		a.slot = len(c.irqs)
		for i, x := range c.irqs {
			if x == nil {
				a.slot = i
				break
			}
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(a.slot)}
		if e := unix.EpollCtl(c.epfd, unix.EPOLL_CTL_ADD, irq.Fd, &ev); e != nil {
			err = fmt.Errorf("irq %q: add fd %d: %w", name, irq.Fd, os.NewSyscallError("epoll_ctl", e))
			return
		}
		if a.slot == len(c.irqs) {
			c.irqs = append(c.irqs, a)
		} else {
			c.irqs[a.slot] = a
		}
	})
	if err == nil {
		err = xerr
	}
	if err != nil {
		if a.thread != nil {
			a.thread.stopAndWait()
		}
		return nil, err
	}
	c.cmu.Lock()
	c.actions[a] = struct{}{}
	c.cmu.Unlock()
	return a, nil
}

// Num is the IRQ number allocated at request time (the n of "irq/n-name").
func (a *IRQAction) Num() int { return a.num }

// ThreadTID is the IRQ thread's TID, or 0 without a thread.
func (a *IRQAction) ThreadTID() int {
	if a.thread == nil {
		return 0
	}
	return a.thread.tid
}

// Count is the number of interrupts taken; Spurious those whose handler
// returned IRQNone.
func (a *IRQAction) Count() uint64    { return a.count.Load() }
func (a *IRQAction) Spurious() uint64 { return a.spurious.Load() }

// HandlerTime is the time spent in the primary handler, summed over every
// interrupt (two vDSO clock reads per interrupt measure it): divided by
// Count, what one interrupt costs in hard-IRQ context.
func (a *IRQAction) HandlerTime() time.Duration { return time.Duration(a.handlerT.Load()) }

// ThreadRuns is the number of times the thread function ran.
func (a *IRQAction) ThreadRuns() uint64 {
	if a.thread == nil {
		return 0
	}
	return a.thread.runs.Load()
}

// SetAffinity moves the IRQ thread to core cpu (-1 = any core), as writing
// /proc/irq/N/smp_affinity does for the thread (irq_thread_check_affinity):
// the change applies between runs, never during one. The top half stays on
// its CPU.
func (a *IRQAction) SetAffinity(cpu int) error {
	if a.thread == nil {
		return errors.New("deferral: SetAffinity on an IRQ without thread")
	}
	if cpu < -1 || cpu >= rt.NumCPU() {
		return fmt.Errorf("deferral: cpu %d not in 0..%d", cpu, rt.NumCPU()-1)
	}
	a.thread.setAffinity(cpu)
	return nil
}

// Disable masks the line (disable_irq_nosync; nests with Enable) and, unless
// called from the IRQ's own handler, waits for a running primary handler
// (synchronize_irq) by a round trip through the top half.
func (a *IRQAction) Disable() {
	a.mu.Lock()
	a.depth++
	a.applyMaskLocked()
	a.mu.Unlock()
	_ = a.c.exec(func() {})
}

// Enable undoes one Disable (enable_irq).
func (a *IRQAction) Enable() {
	a.mu.Lock()
	if a.depth > 0 {
		a.depth--
	}
	a.applyMaskLocked()
	a.mu.Unlock()
}

func (a *IRQAction) setOneshot(m bool) {
	a.mu.Lock()
	a.oneshot = m
	a.applyMaskLocked()
	a.mu.Unlock()
}

// applyMaskLocked makes the line's mask state follow depth and oneshot.
func (a *IRQAction) applyMaskLocked() {
	want := a.depth > 0 || a.oneshot
	if want == a.masked {
		return
	}
	a.masked = want
	ev := unix.EpollEvent{Fd: int32(a.slot)}
	if want {
		if a.irq.Mask != nil {
			a.irq.Mask()
		}
		_ = unix.EpollCtl(a.c.epfd, unix.EPOLL_CTL_MOD, a.irq.Fd, &ev)
		return
	}
	ev.Events = unix.EPOLLIN
	_ = unix.EpollCtl(a.c.epfd, unix.EPOLL_CTL_MOD, a.irq.Fd, &ev)
	if a.irq.Unmask != nil {
		a.irq.Unmask()
	}
}

// finalizeOneshot is irq_finalize_oneshot: after the thread function, unmask
// unless another run is already due.
func (a *IRQAction) finalizeOneshot() {
	if !a.thread.runFlag.Load() {
		a.setOneshot(false)
	}
}

// handleIRQ is the flow handler plus __handle_irq_event_percpu for one fired
// fd, on the top-half thread.
func (c *CPU) handleIRQ(a *IRQAction) {
	oneshot := a.flags&IRQFOneshot != 0 && a.thread != nil
	if oneshot {
		a.setOneshot(true) // mask before the handler, as handle_fasteoi_irq does for IRQS_ONESHOT
	}
	var err error
	if a.irq.Ack != nil {
		err = a.irq.Ack()
	} else {
		_, err = eventfdRead(a.irq.Fd)
	}
	if err != nil { // nothing to read: a spurious wake-up
		if oneshot {
			a.setOneshot(false)
		}
		return
	}
	a.count.Add(1)
	var ret IRQReturn
	t0 := time.Now()
	c.checkAtomic(func() { ret = a.handler() })
	a.handlerT.Add(int64(time.Since(t0)))
	switch ret {
	case IRQNone:
		a.spurious.Add(1)
	case IRQWakeThread:
		if a.thread != nil {
			a.thread.wake()
			return // ONESHOT: the thread unmasks
		}
	}
	if oneshot {
		a.setOneshot(false)
	}
}

// Free is free_irq: it removes the handler (after which the primary never
// runs again), waits for a running thread function to return and stops the
// thread. The line is left as it is. Free is idempotent.
func (a *IRQAction) Free() {
	a.freeOnce.Do(func() {
		c := a.c
		_ = c.exec(func() {
			_ = unix.EpollCtl(c.epfd, unix.EPOLL_CTL_DEL, a.irq.Fd, nil)
			c.irqs[a.slot] = nil
		})
		if a.thread != nil {
			a.thread.stopAndWait()
		}
		c.cmu.Lock()
		delete(c.actions, a)
		c.cmu.Unlock()
	})
}
