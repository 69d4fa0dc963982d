package deferral

import (
	"fmt"
	"math/bits"
	"time"
)

// Softirq is a softirq vector number. The set and its order are fixed at
// compile time, as in the kernel's enum in include/linux/interrupt.h: pending
// softirqs run lowest number first.
type Softirq int

// The kernel's softirq vector, in its order.
const (
	HISoftirq      Softirq = iota // HI_SOFTIRQ: high-priority tasklets
	TimerSoftirq                  // TIMER_SOFTIRQ
	NetTXSoftirq                  // NET_TX_SOFTIRQ
	NetRXSoftirq                  // NET_RX_SOFTIRQ: NAPI polling (net_rx_action)
	BlockSoftirq                  // BLOCK_SOFTIRQ
	IRQPollSoftirq                // IRQ_POLL_SOFTIRQ
	TaskletSoftirq                // TASKLET_SOFTIRQ: normal tasklets
	SchedSoftirq                  // SCHED_SOFTIRQ
	HRTimerSoftirq                // HRTIMER_SOFTIRQ
	RCUSoftirq                    // RCU_SOFTIRQ
	NrSoftirqs                    // NR_SOFTIRQS, not a vector
)

var softirqNames = [NrSoftirqs]string{"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"}

// String returns the kernel's name (/proc/softirqs), e.g. "NET_RX".
func (s Softirq) String() string {
	if s < 0 || s >= NrSoftirqs {
		return fmt.Sprintf("Softirq(%d)", int(s))
	}
	return softirqNames[s]
}

// Bounds of one softirq processing run, from kernel/softirq.c.
const (
	// MaxSoftirqTime is MAX_SOFTIRQ_TIME: __do_softirq stops restarting after 2 ms.
	MaxSoftirqTime = 2 * time.Millisecond
	// MaxSoftirqRestart is MAX_SOFTIRQ_RESTART: at most 10 passes over the pending mask.
	MaxSoftirqRestart = 10
)

// SoftirqStats counts softirq processing on one CPU.
type SoftirqStats struct {
	Runs      [NrSoftirqs]uint64 // actions run per vector (/proc/softirqs)
	Deferred  uint64             // times the restart bound handed the rest to ksoftirqd
	Ksoftirqd uint64             // processing runs done by ksoftirqd
}

// OpenSoftirq installs action for vector nr on c, as open_softirq does. The
// kernel's vector is global; here each CPU has its own, so that independent
// CPUs (tests, drivers) do not share handlers. The package itself opens HI and
// TASKLET (tasklets) and, on first use of NAPI on c, NET_RX. Opening a vector
// twice is an error. The action runs in softirq context: see doc.go.
func (c *CPU) OpenSoftirq(nr Softirq, action func()) error {
	if nr < 0 || nr >= NrSoftirqs {
		return fmt.Errorf("deferral: softirq %d out of range", int(nr))
	}
	if action == nil {
		return fmt.Errorf("deferral: nil action for softirq %v", nr)
	}
	if !c.vec[nr].CompareAndSwap(nil, &action) {
		return fmt.Errorf("deferral: softirq %v already open on cpu %q", nr, c.name)
	}
	return nil
}

// RaiseSoftirq marks nr pending on c (raise_softirq). Called from c's top half
// or from softirq context on c, the softirq runs when that context finishes
// (irq_exit, or the next restart pass). Called from anywhere else ("process
// context"), it wakes c's ksoftirqd, as raise_softirq_irqoff does when
// !in_interrupt(). It does not allocate.
func (c *CPU) RaiseSoftirq(nr Softirq) {
	c.pending.Or(1 << uint(nr))
	if t := gettid(); t != c.tid && t != c.ksoftirqdTID {
		c.wakeKsoftirqd()
	}
}

// raiseFromIRQ marks nr pending and kicks c's top half, which runs it on its
// way out as after a hardware interrupt: what a hrtimer interrupt raising a
// softirq looks like. Used by NAPI's deferral timer.
func (c *CPU) raiseFromIRQ(nr Softirq) {
	c.pending.Or(1 << uint(nr))
	c.kick()
}

func (c *CPU) wakeKsoftirqd() {
	select {
	case c.ksoftirqdWake <- struct{}{}:
	default:
	}
}

// doSoftirq is __do_softirq: it runs the pending softirqs lowest first, and
// restarts while more are raised, at most MaxSoftirqRestart passes and
// MaxSoftirqTime. It reports whether softirqs are still pending (the caller
// then wakes ksoftirqd). The caller holds c.softirqMu: softirqs of one CPU
// never run concurrently with each other (local_bh_disable).
// The kernel also stops when need_resched() is set; Go cannot see that.
func (c *CPU) doSoftirq() (more bool) {
	start := time.Now()
	restart := MaxSoftirqRestart
	for {
		pending := c.pending.Swap(0)
		for pending != 0 {
			nr := bits.TrailingZeros32(pending)
			pending &^= 1 << uint(nr)
			if a := c.vec[nr].Load(); a != nil {
				c.checkAtomic(*a)
				c.softirqRuns[nr].Add(1)
			}
		}
		if c.pending.Load() == 0 {
			return false
		}
		restart--
		if restart == 0 || time.Since(start) >= MaxSoftirqTime {
			c.deferred.Add(1)
			return true
		}
	}
}

// irqExit runs pending softirqs on the top-half thread after the handlers, as
// irq_exit -> invoke_softirq does. If ksoftirqd holds the softirq lock, the
// work is left to it: it re-checks the pending mask after unlocking.
func (c *CPU) irqExit() {
	if c.pending.Load() == 0 || !c.softirqMu.TryLock() {
		return
	}
	more := c.doSoftirq()
	c.softirqMu.Unlock()
	if more {
		c.wakeKsoftirqd()
	}
}

// ksoftirqd is run_ksoftirqd's thread: SCHED_OTHER, pinned to c's core. It
// runs softirqs that overflowed the restart bound or were raised outside
// interrupt context, in bounded passes. The kernel calls cond_resched between
// them; here the OS scheduler preempts the thread (it is SCHED_OTHER) and the
// Go runtime preempts the goroutine when its P is wanted, so nothing is
// needed: runtime.Gosched on a locked thread would cost two futex calls.
func (c *CPU) ksoftirqd() {
	defer close(c.ksoftirqdDone)
	for {
		select {
		case <-c.ksoftirqdWake:
		case <-c.stop:
			return
		}
		for c.pending.Load() != 0 {
			select {
			case <-c.stop:
				return
			default:
			}
			c.softirqMu.Lock()
			c.doSoftirq()
			c.softirqMu.Unlock()
			c.ksoftirqdRuns.Add(1)
		}
	}
}
