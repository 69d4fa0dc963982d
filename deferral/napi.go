package deferral

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// NAPI constants, from include/linux/netdevice.h and net/core/dev.c.
const (
	NAPIPollWeight = 64                      // NAPI_POLL_WEIGHT: budget of one poll
	NetdevBudget   = 300                     // net.core.netdev_budget: per NET_RX round
	NetdevBudgetT  = 2000 * time.Microsecond // net.core.netdev_budget_usecs: per NET_RX round
)

// NAPI state bits (NAPI_STATE_*).
const (
	napiSched   = 1 << iota // owned: on a poll list or being polled
	napiMissed              // scheduled again while owned: poll once more
	napiDisable             // napi_disable pending
)

// NAPIOptions configures a NAPI instance (netif_napi_add plus the sysfs knobs).
type NAPIOptions struct {
	// Weight is the budget passed to each poll; 0 means NAPIPollWeight (64).
	Weight int
	// Reenable is called, on the polling thread, when a poll does less than
	// its budget and completes (napi_complete_done returned true): re-enable
	// the source's interrupt there. Nil: nothing to re-enable.
	Reenable func()
	// DeferHardIRQs is napi_defer_hard_irqs: after a poll that found work,
	// this many consecutive empty polls (FlushTimeout apart, driven by a
	// timer) happen before Reenable. 0 disables deferral.
	DeferHardIRQs int
	// FlushTimeout is gro_flush_timeout, the deferral timer; deferral needs
	// both fields non-zero, as in the kernel.
	FlushTimeout time.Duration
}

// NAPI is a struct napi_struct bound to a CPU: scheduled from the top half,
// polled from NET_RX softirq on that CPU.
type NAPI struct {
	c         *CPU
	poll      func(budget int) int
	weight    int
	reenable  func()
	deferIRQs int
	flushTO   time.Duration

	state      atomic.Uint32
	next       *NAPI // poll list link, under c.napi.mu
	deferCount int   // defer_hard_irqs_count; polling context only
	timer      *time.Timer
	polls      atomic.Uint64
	completes  atomic.Uint64
}

// NetRXStats counts NET_RX processing on one CPU (/proc/net/softnet_stat).
type NetRXStats struct {
	Rounds        uint64 // net_rx_action calls
	Polls         uint64
	BudgetSqueeze uint64 // rounds ended by the 300 budget (part of time_squeeze)
	TimeSqueeze   uint64 // rounds ended by the 2 ms limit (part of time_squeeze)
}

// napiCPU is softnet_data's NAPI part.
type napiCPU struct {
	openOnce sync.Once
	openErr  error
	mu       sync.Mutex
	list     napiList // poll_list
	all      []*NAPI  // for Close: stop timers

	rounds, polls, budgetSq, timeSq atomic.Uint64
}

type napiList struct{ head, tail *NAPI }

func (q *napiList) push(n *NAPI) {
	n.next = nil
	if q.tail == nil {
		q.head = n
	} else {
		q.tail.next = n
	}
	q.tail = n
}

func (q *napiCPU) stopTimers() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, n := range q.all {
		if n.timer != nil {
			n.timer.Stop()
		}
	}
}

// NetRXStats returns c's NET_RX counters.
func (c *CPU) NetRXStats() NetRXStats {
	q := &c.napi
	return NetRXStats{Rounds: q.rounds.Load(), Polls: q.polls.Load(), BudgetSqueeze: q.budgetSq.Load(), TimeSqueeze: q.timeSq.Load()}
}

// NewNAPI is netif_napi_add + napi_enable: poll(budget) must do at most budget
// units of work and return how many it did. The first NAPI on c opens NET_RX.
func (c *CPU) NewNAPI(poll func(budget int) int, opts NAPIOptions) (*NAPI, error) {
	if poll == nil {
		return nil, errors.New("deferral: NewNAPI with nil poll")
	}
	c.napi.openOnce.Do(func() { c.napi.openErr = c.OpenSoftirq(NetRXSoftirq, c.netRXAction) })
	if c.napi.openErr != nil {
		return nil, c.napi.openErr
	}
	n := &NAPI{c: c, poll: poll, weight: opts.Weight, reenable: opts.Reenable, deferIRQs: opts.DeferHardIRQs, flushTO: opts.FlushTimeout}
	if n.weight <= 0 {
		n.weight = NAPIPollWeight
	}
	if n.deferIRQs > 0 && n.flushTO > 0 {
		n.timer = time.AfterFunc(time.Hour, n.watchdog)
		n.timer.Stop()
	}
	c.napi.mu.Lock()
	c.napi.all = append(c.napi.all, n)
	c.napi.mu.Unlock()
	return n, nil
}

// Polls is the number of poll calls; Completes the number of completions.
func (n *NAPI) Polls() uint64     { return n.polls.Load() }
func (n *NAPI) Completes() uint64 { return n.completes.Load() }

// schedulePrep is napi_schedule_prep: take ownership, or mark MISSED if
// already owned so that the owner polls once more.
func (n *NAPI) schedulePrep() bool {
	for {
		val := n.state.Load()
		if val&napiDisable != 0 {
			return false
		}
		nv := val | napiSched
		if val&napiSched != 0 {
			nv |= napiMissed
		}
		if n.state.CompareAndSwap(val, nv) {
			return val&napiSched == 0
		}
	}
}

// Schedule is napi_schedule: from the top half, after masking the source's
// interrupt. It reports whether this call took ownership (false: already
// scheduled or being polled, and then MISSED is set: one more poll follows).
// It does not allocate.
func (n *NAPI) Schedule() bool {
	if !n.schedulePrep() {
		return false
	}
	n.listAdd()
	n.c.RaiseSoftirq(NetRXSoftirq)
	return true
}

func (n *NAPI) listAdd() {
	q := &n.c.napi
	q.mu.Lock()
	q.list.push(n)
	q.mu.Unlock()
}

// watchdog is napi_watchdog, the hrtimer of interrupt deferral: it schedules
// the NAPI as an interrupt would, and so runs NET_RX on the top half.
func (n *NAPI) watchdog() {
	if n.schedulePrep() {
		n.listAdd()
		n.c.raiseFromIRQ(NetRXSoftirq)
	}
}

// completeDone is napi_complete_done: release ownership unless MISSED (then
// re-schedule), with interrupt deferral. True means "re-enable interrupts".
func (n *NAPI) completeDone(work int) bool {
	n.completes.Add(1)
	ret := true
	var timeout time.Duration
	if work > 0 {
		n.deferCount = n.deferIRQs
	}
	if n.deferCount > 0 && n.timer != nil {
		n.deferCount--
		timeout = n.flushTO
		ret = false
	}
	for {
		val := n.state.Load()
		nv := val &^ (napiMissed | napiSched)
		if val&napiMissed != 0 {
			nv |= napiSched // one more poll: keep ownership
		}
		if n.state.CompareAndSwap(val, nv) {
			if val&napiMissed != 0 {
				n.listAdd()
				n.c.pending.Or(1 << uint(NetRXSoftirq))
				return false
			}
			break
		}
	}
	if timeout > 0 {
		n.timer.Reset(timeout)
	}
	return ret
}

// napiPoll is napi_poll: one poll; what did not finish goes on repoll.
func (c *CPU) napiPoll(n *NAPI, repoll *napiList) int {
	work := n.poll(n.weight)
	n.polls.Add(1)
	c.napi.polls.Add(1)
	if work > n.weight {
		work = n.weight // a driver bug the kernel warns about
	}
	if work < n.weight {
		if n.completeDone(work) && n.reenable != nil {
			n.reenable()
		}
		return work
	}
	if n.state.Load()&napiDisable != 0 { // napi_disable waits: give it up
		n.completeDone(0)
		return work
	}
	repoll.push(n)
	return work
}

// netRXAction is net_rx_action: poll the CPU's list within NetdevBudget and
// NetdevBudgetT; what remains is put back and NET_RX raised again.
func (c *CPU) netRXAction() {
	q := &c.napi
	q.rounds.Add(1)
	start := time.Now()
	budget := NetdevBudget
	q.mu.Lock()
	list := q.list
	q.list = napiList{}
	q.mu.Unlock()
	var repoll napiList
	for list.head != nil {
		n := list.head
		list.head = n.next
		if list.head == nil {
			list.tail = nil
		}
		n.next = nil
		budget -= c.napiPoll(n, &repoll)
		if budget <= 0 {
			q.budgetSq.Add(1)
			break
		}
		if time.Since(start) >= NetdevBudgetT {
			q.timeSq.Add(1)
			break
		}
	}
	q.mu.Lock()
	// Order as the kernel: unpolled, then newly scheduled, then repoll.
	for _, l := range [...]napiList{q.list, repoll} {
		if l.head != nil {
			if list.tail == nil {
				list.head = l.head
			} else {
				list.tail.next = l.head
			}
			list.tail = l.tail
		}
	}
	q.list = list
	more := list.head != nil
	q.mu.Unlock()
	if more {
		c.pending.Or(1 << uint(NetRXSoftirq))
	}
}

// Disable is napi_disable: wait until the NAPI is not scheduled, then own it
// so that it cannot be scheduled until Enable.
func (n *NAPI) Disable() {
	n.state.Or(napiDisable)
	for {
		val := n.state.Load()
		if val&napiSched != 0 {
			time.Sleep(20 * time.Microsecond)
			continue
		}
		if n.state.CompareAndSwap(val, val|napiSched) {
			break
		}
	}
	if n.timer != nil {
		n.timer.Stop()
	}
	n.state.And(^uint32(napiDisable))
}

// Enable is napi_enable: undo Disable.
func (n *NAPI) Enable() {
	n.state.And(^uint32(napiSched | napiMissed))
}
