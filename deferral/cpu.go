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

// ErrClosed is returned by operations on a closed CPU, workqueue or executor.
var ErrClosed = errors.New("deferral: closed")

// CPUOptions configures a CPU. The zero value is a SCHED_OTHER context pinned
// to core 0.
type CPUOptions struct {
	// CPU is the core the top half and ksoftirqd are pinned to
	// (sched_setaffinity); -1 leaves them unpinned.
	CPU int
	// RTPrio is the SCHED_FIFO priority (1..99) of the top half; 0 means
	// SCHED_OTHER. Hard IRQs preempt every task, so give it a priority above
	// the threads it competes with (threaded IRQs default to 50; 90 is a
	// common choice). If the process may not use SCHED_FIFO, NewCPU fails
	// with an error wrapping rt.ErrRTNotPermitted.
	RTPrio int
	// Sched, unless zero, is the top half's scheduling class instead of
	// RTPrio (give one or the other): e.g. the threaded IRQ thread's or the
	// workqueue worker's own class, so that the thread waiting on the
	// interrupt fds runs no higher than the bottom half it wakes. With VFIO
	// the kernel's own handler has already masked the line and signalled
	// the eventfd, so nothing of the driver need run above the tasks the
	// bottom half yields to (doc.go, "Execution contexts"). A deadline
	// class cannot be pinned: it needs CPU -1.
	Sched rt.Sched
	// Name names the top-half thread ("irq-<Name>") and ksoftirqd
	// ("ksoftirqd/<Name>"); empty means the core number.
	Name string
	// CheckAtomic makes the CPU count, by the thread's voluntary context
	// switches (getrusage RUSAGE_THREAD), the primary handlers and softirq
	// actions that slept. Go cannot forbid sleeping in atomic context; this
	// detects it afterwards, at the cost of two system calls per handler.
	CheckAtomic bool
}

// CPU is one execution context in the kernel's sense: a top-half thread (hard
// IRQ context) that waits on interrupt fds, runs primary handlers and then the
// pending softirqs, and a ksoftirqd thread that takes over softirqs beyond the
// restart bound. Each is a goroutine locked to its own OS thread for its
// whole life, pinned to CPUOptions.CPU.
type CPU struct {
	name        string
	core        int
	atomicCheck bool
	tid         int         // top-half thread, set before the thread runs handlers
	epfd        int         // epoll set of the IRQ fds and kickfd; owned by park's file
	park        *idleParker // the top half's idle wait (idlepark_linux.go)
	kickfd      int         // eventfd waking the top half: control calls, timer raises, stop

	pending atomic.Uint32 // softirq pending mask (local_softirq_pending)
	vec     [NrSoftirqs]atomic.Pointer[func()]
	// softirqMu serializes softirq processing of this CPU between the top
	// half and ksoftirqd, as local_bh_disable does for one kernel CPU. The
	// top half only TryLocks it: a hard IRQ never waits for a bottom half.
	softirqMu     sync.Mutex
	ksoftirqdTID  int
	ksoftirqdWake chan struct{}
	ksoftirqdDone chan struct{}

	softirqRuns   [NrSoftirqs]atomic.Uint64
	deferred      atomic.Uint64
	ksoftirqdRuns atomic.Uint64
	atomicSleeps  atomic.Uint64

	// Tasklet lists (tasklet_vec, tasklet_hi_vec) and parked disabled tasklets.
	tmu      sync.Mutex
	tasklets [2]taskletList
	parked   [2]taskletList

	napi napiCPU // NET_RX state

	cmu     sync.Mutex // guards calls, closing, actions
	calls   []func()   // run on the top-half thread
	closing bool
	// fdsClosed: kickfd is closed; writing it then could hit a reused fd.
	fdsClosed bool
	actions   map[*IRQAction]struct{}

	irqs      []*IRQAction    // by epoll slot; top-half thread only
	inline    []*inlineThread // inline IRQ threads (inline.go); top-half thread only
	stopping  atomic.Bool
	stop      chan struct{} // closed to stop ksoftirqd
	done      chan struct{} // closed when the top half has exited
	closeOnce sync.Once
}

// kickSlot is the epoll user data of kickfd; IRQ slots are >= 0.
const kickSlot = -1

// NewCPU starts a CPU's top-half and ksoftirqd threads.
func NewCPU(opts CPUOptions) (*CPU, error) {
	if opts.CPU < -1 || opts.CPU >= rt.NumCPU() {
		return nil, fmt.Errorf("deferral: cpu %d not in 0..%d", opts.CPU, rt.NumCPU()-1)
	}
	if !opts.Sched.IsZero() {
		if opts.RTPrio != 0 {
			return nil, fmt.Errorf("deferral: cpu: give RTPrio (%d) or Sched (%v), not both", opts.RTPrio, opts.Sched)
		}
		if err := opts.Sched.Validate(); err != nil {
			return nil, err
		}
		if opts.Sched.Policy == rt.PolicyDeadline && opts.CPU >= 0 {
			return nil, fmt.Errorf("deferral: cpu %d: %w: a SCHED_DEADLINE top half runs on its whole root domain; use CPU -1",
				opts.CPU, rt.ErrDeadlineAffinity)
		}
	}
	name := opts.Name
	if name == "" {
		name = fmt.Sprint(opts.CPU)
	}
	c := &CPU{
		name:          name,
		core:          opts.CPU,
		atomicCheck:   opts.CheckAtomic,
		ksoftirqdWake: make(chan struct{}, 1),
		ksoftirqdDone: make(chan struct{}),
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
		actions:       map[*IRQAction]struct{}{},
	}
	var err error
	if c.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("create epoll fd: %w", os.NewSyscallError("epoll_create1", err))
	}
	if c.kickfd, err = newEventfd(); err != nil {
		unix.Close(c.epfd)
		return nil, fmt.Errorf("create kick eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: kickSlot}
	if err := unix.EpollCtl(c.epfd, unix.EPOLL_CTL_ADD, c.kickfd, &ev); err != nil {
		c.closeFds()
		return nil, fmt.Errorf("add kick eventfd: %w", os.NewSyscallError("epoll_ctl", err))
	}
	if c.park, err = newIdleParker(c.epfd); err != nil {
		c.closeFds()
		return nil, err
	}
	hi, normal := func() { c.taskletAction(0) }, func() { c.taskletAction(1) }
	c.vec[HISoftirq].Store(&hi)
	c.vec[TaskletSoftirq].Store(&normal)

	c.ksoftirqdTID, err = rt.StartThread(rt.ThreadAttrs{Name: "ksoftirqd/" + name, CPU: opts.CPU}, c.ksoftirqd)
	if err != nil {
		c.closeFds()
		return nil, fmt.Errorf("start ksoftirqd: %w", err)
	}
	c.tid, err = rt.StartThread(rt.ThreadAttrs{Name: "irq-" + name, CPU: opts.CPU, Sched: threadClass(opts.Sched, opts.RTPrio, 0)}, c.topHalf)
	if err != nil {
		close(c.stop)
		<-c.ksoftirqdDone
		c.closeFds()
		return nil, fmt.Errorf("start top half: %w", err)
	}
	addProcs(1) // the top half holds a P (procs.go)
	return c, nil
}

func (c *CPU) closeFds() {
	unix.Close(c.kickfd)
	if c.park != nil {
		c.park.file.Close() // owns epfd
		return
	}
	unix.Close(c.epfd)
}

// Core is the core c is pinned to, or -1.
func (c *CPU) Core() int { return c.core }

// Name is the name given in CPUOptions.
func (c *CPU) Name() string { return c.name }

// TID is the top-half thread's TID.
func (c *CPU) TID() int { return c.tid }

// KsoftirqdTID is the ksoftirqd thread's TID.
func (c *CPU) KsoftirqdTID() int { return c.ksoftirqdTID }

// Stats returns c's softirq counters.
func (c *CPU) Stats() SoftirqStats {
	var s SoftirqStats
	for i := range s.Runs {
		s.Runs[i] = c.softirqRuns[i].Load()
	}
	s.Deferred = c.deferred.Load()
	s.Ksoftirqd = c.ksoftirqdRuns.Load()
	return s
}

// AtomicSleeps is the number of handlers that slept in hard-IRQ or softirq
// context on c; counted only with CPUOptions.CheckAtomic.
func (c *CPU) AtomicSleeps() uint64 { return c.atomicSleeps.Load() }

// checkAtomic runs fn, and with CheckAtomic counts it if the thread slept.
func (c *CPU) checkAtomic(fn func()) {
	if !c.atomicCheck {
		fn()
		return
	}
	before := voluntarySwitches()
	fn()
	if voluntarySwitches() != before {
		c.atomicSleeps.Add(1)
	}
}

// topHalf is the hard-IRQ loop: wait on the IRQ fds, run the handlers of those
// that fired, then the pending softirqs (irq_exit).
func (c *CPU) topHalf() {
	defer close(c.done)
	var events [32]unix.EpollEvent
	for {
		// Raw: a SCHED_FIFO top half must never be inside a system call
		// the Go runtime knows of (doc.go, "Real-time threads").
		n, err := rawEpollWait(c.epfd, events[:], int(IdleParkAfter/time.Millisecond))
		if err == 0 && n == 0 {
			// Idle: park where sysmon leaves it alone (idlepark_linux.go).
			n, err = c.park.park(events[:])
		}
		if err != 0 {
			if err == unix.EINTR {
				continue
			}
			// Only a bug (closed epfd) gets here; leave rather than spin.
			return
		}
		for i := 0; i < n; i++ {
			slot := int(events[i].Fd)
			if slot == kickSlot {
				_, _ = eventfdRead(c.kickfd)
				c.runCalls()
				if c.stopping.Load() {
					return
				}
				continue
			}
			if slot < len(c.irqs) && c.irqs[slot] != nil {
				c.handleIRQ(c.irqs[slot])
			}
		}
		c.runInline()
		c.irqExit()
	}
}

// runCalls runs the control calls queued by exec, on the top-half thread.
func (c *CPU) runCalls() {
	c.cmu.Lock()
	calls := c.calls
	c.calls = nil
	c.cmu.Unlock()
	for _, f := range calls {
		f()
	}
}

// exec runs fn on the top-half thread between interrupts and waits for it:
// what changes the IRQ table is thereby ordered with the handlers.
func (c *CPU) exec(fn func()) error {
	if gettid() == c.tid {
		fn()
		return nil
	}
	done := make(chan struct{})
	c.cmu.Lock()
	if c.closing {
		c.cmu.Unlock()
		return ErrClosed
	}
	c.calls = append(c.calls, func() { fn(); close(done) })
	eventfdSignal(c.kickfd) // under cmu: Close closes kickfd under it
	c.cmu.Unlock()
	<-done
	return nil
}

// kick wakes the top half, unless c's fds are closed. Not for the hot path.
func (c *CPU) kick() {
	c.cmu.Lock()
	if !c.fdsClosed {
		eventfdSignal(c.kickfd)
	}
	c.cmu.Unlock()
}

// Close frees c's IRQs (stopping their threads), stops the top half and
// ksoftirqd, waits for both threads to exit and closes c's fds. Softirqs and
// tasklets still pending are dropped. Close is idempotent.
func (c *CPU) Close() error {
	c.closeOnce.Do(func() {
		c.cmu.Lock()
		actions := make([]*IRQAction, 0, len(c.actions))
		for a := range c.actions {
			actions = append(actions, a)
		}
		c.cmu.Unlock()
		for _, a := range actions {
			a.Free()
		}
		c.napi.stopTimers()
		c.cmu.Lock()
		c.closing = true
		c.cmu.Unlock()
		c.stopping.Store(true)
		c.kick()
		<-c.done
		addProcs(-1)
		c.runCalls() // none can be queued now; release any racing exec
		close(c.stop)
		<-c.ksoftirqdDone
		c.cmu.Lock()
		c.fdsClosed = true
		c.closeFds()
		c.cmu.Unlock()
	})
	return nil
}
