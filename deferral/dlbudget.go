package deferral

import (
	"os"
	"sync/atomic"
)

// dlBudget makes a SCHED_DEADLINE bottom half keep to its runtime by itself.
//
// The kernel enforces a deadline task's runtime when its scheduler tick or,
// with the HRTICK_DL scheduler feature (off by default), an hrtimer notices
// the overrun: with HZ=250 a bottom half that keeps polling can run up to
// 4 ms before it is throttled, and then stays throttled for as many periods
// as it overran. Its average share stays Runtime/Period, but a real-time task
// on that CPU meets 4 ms bursts. So the bottom half:
//   - sizes each Poll to the runtime it has left, from the CPU time the
//     previous polls took per unit of work (a Poll of the full Weight can
//     itself take longer than Runtime);
//   - calls sched_yield once it has used Runtime of CPU time since it last
//     gave way, which for a deadline task ends the current instance until
//     its next period.
//
// A burst is then about Runtime plus one unit of work. Measured on the host
// (TestMeasureDeadlineBH: 20 000 interrupts/s of 60 µs each on the task's
// CPU, FIFO-80 1 ms task, 10 s runs, 3 repetitions, kernel 6.18 with HZ=250;
// missed jobs): task alone 28, 42, 85; threaded bottom half at FIFO 50 409,
// 443, 525 (50 ms stalls: RT throttling); deadline:200us/1ms with this 48,
// 116, 432; the same without it 737-1380, and with fixed 2-unit polls but no
// yield 871-1054. The zero value (other policies) does nothing.
//
// By default only the yield is made: Polls keep their full Weight. Cutting
// Polls to the runtime left (UIODRV_DL_SELF_ENFORCE=shorten) collapsed the
// bottom half in the lab: under TCG a poll's CPU time includes the time the
// host did not run the vCPU, the estimate of a unit's cost rose to
// milliseconds, Polls shrank to a frame or two each paying the fixed cost
// of a poll, and the bottom half carried 188 frames/s of 20 000 offered
// (with the estimate following the cheapest polls, 2 000/s); yielding alone
// carried 17 000/s with no frame lost (one boot, threadirqs, 5 s each).
// UIODRV_DL_SELF_ENFORCE=0 turns the self-enforcement off (the kernel's
// enforcement at the tick alone). DeadlineBudgetStats counts what it did.
type dlBudget struct {
	runtime int64 // ns; 0: not a deadline thread
	since   int64 // thread CPU time at the last yield or run start
	last    int64 // thread CPU time at the last poll's end
	perUnit int64 // ns of CPU per unit of work, smoothed; 0: unknown
}

// dlSelfEnforce is read once: a diagnostic switch, not a tuning knob.
var (
	dlSelfEnforce = os.Getenv("UIODRV_DL_SELF_ENFORCE") != "0"
	dlShorten     = os.Getenv("UIODRV_DL_SELF_ENFORCE") == "shorten"
)

// Process-wide counts of the self-enforcement (DeadlineBudgetStats).
var dlPolls, dlShortPolls, dlYields atomic.Uint64

// DeadlineBudgetStats reports what the deadline bottom halves' own budget
// enforcement did in this process: polls made, polls cut below the full
// weight to fit the runtime left, and sched_yield calls (each ends the
// deadline instance until the next period).
func DeadlineBudgetStats() (polls, shortened, yields uint64) {
	return dlPolls.Load(), dlShortPolls.Load(), dlYields.Load()
}

func newDLBudget(s Sched) dlBudget {
	if s.Policy != PolicyDeadline || !dlSelfEnforce {
		return dlBudget{}
	}
	return dlBudget{runtime: int64(s.Runtime)}
}

// start notes the thread's CPU time when a run begins.
func (b *dlBudget) start() {
	if b.runtime > 0 {
		b.since = threadCPUTime()
		b.last = b.since
	}
}

// weight is the budget of the next Poll: what fits in the runtime left, at
// most max, at least 1.
func (b *dlBudget) weight(max int) int {
	if b.runtime == 0 || b.perUnit == 0 || !dlShorten {
		return max
	}
	n := fitUnits(b.runtime-(b.last-b.since), b.perUnit, max)
	if n < max {
		dlShortPolls.Add(1)
	}
	return n
}

// fitUnits is how many units of perUnit ns fit in left ns, within 1..max.
func fitUnits(left, perUnit int64, max int) int {
	n := left / perUnit
	switch {
	case n < 1:
		return 1
	case n > int64(max):
		return max
	}
	return int(n)
}

// done accounts a Poll that did n units, and yields the rest of the instance
// once Runtime is used up. It makes one system call (clock_gettime of the
// thread's CPU clock) per call, and none for other policies; it does not
// allocate.
func (b *dlBudget) done(n int) {
	if b.runtime == 0 {
		return
	}
	dlPolls.Add(1)
	now := threadCPUTime()
	if n > 0 {
		b.perUnit = nextPerUnit(b.perUnit, (now-b.last)/int64(n))
	}
	b.last = now
	if now-b.since >= b.runtime {
		dlYields.Add(1)
		schedYield()
		b.since = threadCPUTime()
		b.last = b.since
	}
}

// nextPerUnit updates the per-unit cost estimate with one poll's cost per
// unit. It follows the cheapest polls, and rises only slowly (1/16 a poll):
// a poll's CPU time also holds what the thread was charged while it did not
// run at all (under TCG, the host descheduling the vCPU; a 1-unit poll then
// "costs" milliseconds). A smoothed mean of those, as before, sized the next
// polls to a single unit, and every poll paid its fixed cost (the register
// accesses, the unmask) for one frame: in the lab the deadline bottom half
// carried 188 frames/s of 20 000 (1 105 polls in 8 s, 1 104 of them cut
// short); with the enforcement off it carried 16 600/s.
func nextPerUnit(prev, cost int64) int64 {
	cost = max(cost, 1)
	if prev == 0 || cost < prev {
		return cost
	}
	return prev + max((cost-prev)/16, 0) // prev + (cost-prev)/16 <= cost
}
