package rt

import "sync/atomic"

// Budget makes a SCHED_DEADLINE thread that polls keep to its runtime by
// itself.
//
// The kernel enforces a deadline task's runtime when its scheduler tick or,
// with the HRTICK_DL scheduler feature (off by default, see SchedFeature),
// an hrtimer notices the overrun: with HZ=250 a thread that keeps polling can
// run up to 4 ms past its runtime before it is throttled, and then stays
// throttled for as many periods as it overran. Its average share stays
// Runtime/Period, but a real-time task on its CPU meets bursts of a tick. A
// Budget calls sched_yield once the thread has used Runtime of CPU time since
// it last gave way, which for a deadline task ends the current instance until
// its next period: a burst is then about Runtime plus one unit of work.
//
// The zero value, and a Budget for any other class, does nothing. A Budget
// belongs to one thread; it does not allocate.
type Budget struct {
	runtime int64 // ns; 0: not a deadline thread
	since   int64 // thread CPU time at the last yield or run start
}

// Process-wide counts of what the budgets did (BudgetStats, PeriodWaits).
var budgetPolls, budgetYields, budgetWaits atomic.Uint64

// BudgetStats reports what the deadline budgets of this process did: units
// of work accounted (Done calls) and sched_yield calls (each ends the
// deadline instance until the next period).
func BudgetStats() (polls, yields uint64) {
	return budgetPolls.Load(), budgetYields.Load()
}

// NewBudget returns the budget of a thread of class s.
func NewBudget(s Sched) Budget {
	if s.Policy != PolicyDeadline {
		return Budget{}
	}
	return Budget{runtime: int64(s.Runtime)}
}

// Start notes the thread's CPU time when a run of work begins (after the
// thread slept).
func (b *Budget) Start() {
	if b.runtime > 0 {
		b.since = ThreadCPUTime()
	}
}

// Done accounts a unit of work (a poll) and yields the rest of the instance
// once Runtime is used up. It makes one system call (clock_gettime of the
// thread's CPU clock) per call, and none for other classes.
func (b *Budget) Done() {
	if b.runtime == 0 {
		return
	}
	budgetPolls.Add(1)
	if ThreadCPUTime()-b.since >= b.runtime {
		budgetYields.Add(1)
		schedYield()
		b.since = ThreadCPUTime()
	}
}

// NextPeriod, for a deadline thread, ends its current instance (sched_yield)
// and returns true once its next period has begun; for any other class it
// does nothing and returns false.
//
// A deadline bottom half whose poll found work calls it instead of
// re-enabling its interrupt, and polls again: while traffic flows it polls
// once a period with the NIC's interrupt masked, so the interrupt's CPU (a
// real-time task's, often) takes no hard interrupt at all, and the
// reservation's period is the poll timer, as a NAPI instance's
// gro_flush_timeout is under napi_defer_hard_irqs. The price is latency: a
// frame may wait up to one period.
func (b *Budget) NextPeriod() bool {
	if b.runtime == 0 {
		return false
	}
	budgetWaits.Add(1)
	schedYield()
	b.since = ThreadCPUTime()
	return true
}

// PeriodWaits reports how many times this process's deadline bottom halves
// waited for their next period with the interrupt masked (NextPeriod).
func PeriodWaits() uint64 { return budgetWaits.Load() }
