package deferral

import (
	"sync/atomic"
	"testing"
	"time"
)

func newNAPI(t testing.TB, c *CPU, poll func(int) int, opts NAPIOptions) *NAPI {
	t.Helper()
	n, err := c.NewNAPI(poll, opts)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNAPIWeightAndReenable(t *testing.T) {
	c := newCPU(t, lastCore())
	var budgets, reenables, polls atomic.Int64
	var left atomic.Int64
	left.Store(150) // 64 + 64 + 22
	var tid atomic.Int64
	n := newNAPI(t, c, func(budget int) int {
		budgets.Store(int64(budget))
		polls.Add(1)
		tid.Store(int64(gettid()))
		d := min(int64(budget), left.Load())
		left.Add(-d)
		return int(d)
	}, NAPIOptions{Reenable: func() { reenables.Add(1) }})
	fire(irqOn(t, c, func() { n.Schedule() }))
	waitFor(t, "complete", func() bool { return reenables.Load() == 1 })
	settle()
	if budgets.Load() != NAPIPollWeight || polls.Load() != 3 || reenables.Load() != 1 {
		t.Errorf("budget %d polls %d reenables %d, want 64 3 1", budgets.Load(), polls.Load(), reenables.Load())
	}
	if int(tid.Load()) != c.TID() {
		t.Errorf("polled on tid %d, want the top half %d", tid.Load(), c.TID())
	}
}

// Scheduling while owned marks it missed: exactly one more poll, even when
// the poll did less than its budget.
func TestNAPIMissedGivesOneMorePoll(t *testing.T) {
	c := newCPU(t, lastCore())
	var polls, reenables atomic.Int64
	g := newGate(t)
	n := newNAPI(t, c, func(budget int) int {
		if polls.Add(1) == 1 {
			g.wait()
		}
		return 0
	}, NAPIOptions{Reenable: func() { reenables.Add(1) }})
	fire(irqOn(t, c, func() { n.Schedule() }))
	<-g.entered
	for i := 0; i < 3; i++ {
		if n.Schedule() {
			t.Error("Schedule while owned returned true")
		}
	}
	g.release()
	waitFor(t, "reenable", func() bool { return reenables.Load() == 1 })
	settle()
	if polls.Load() != 2 || reenables.Load() != 1 {
		t.Errorf("polls %d reenables %d, want 2 1", polls.Load(), reenables.Load())
	}
}

// A NET_RX round stops at the 300 budget: with six NAPIs that have work, a
// round polls five of them (5*64 >= 300) and the rest waits for later rounds.
// (One NAPI gets one poll per round: after a full poll it goes to the
// repoll list, which the kernel only splices back for the next round.)
func TestNAPIRoundBudget(t *testing.T) {
	c := newCPU(t, lastCore())
	var ns []*NAPI
	for i := 0; i < 6; i++ {
		var polls atomic.Int64
		ns = append(ns, newNAPI(t, c, func(budget int) int {
			if polls.Add(1) <= 3 {
				return budget
			}
			return 0
		}, NAPIOptions{}))
	}
	fire(irqOn(t, c, func() {
		for _, n := range ns {
			n.Schedule()
		}
	}))
	waitFor(t, "completions", func() bool {
		for _, n := range ns {
			if n.Completes() != 1 {
				return false
			}
		}
		return true
	})
	s := c.NetRXStats()
	if s.Polls != 24 || s.BudgetSqueeze == 0 || s.Rounds < 5 { // ceil(24/5)
		t.Errorf("%+v: want 24 polls, a budget squeeze, >= 5 rounds", s)
	}
}

// ... and at the 2 ms time limit: three NAPIs whose polls take 1 ms.
func TestNAPIRoundTimeLimit(t *testing.T) {
	c := newCPU(t, lastCore())
	var ns []*NAPI
	for i := 0; i < 3; i++ {
		var polls atomic.Int64
		ns = append(ns, newNAPI(t, c, func(budget int) int {
			for s := time.Now(); time.Since(s) < time.Millisecond; {
			}
			if polls.Add(1) <= 2 {
				return budget
			}
			return 0
		}, NAPIOptions{Weight: 1}))
	}
	fire(irqOn(t, c, func() {
		for _, n := range ns {
			n.Schedule()
		}
	}))
	waitFor(t, "completions", func() bool {
		for _, n := range ns {
			if n.Completes() != 1 {
				return false
			}
		}
		return true
	})
	s := c.NetRXStats()
	if s.TimeSqueeze == 0 || s.BudgetSqueeze != 0 || s.Polls != 9 {
		t.Errorf("%+v: want 9 polls, a time squeeze and no budget squeeze", s)
	}
}

// defer_hard_irqs: after a poll with work, DeferHardIRQs empty polls driven
// by the flush timer come before the interrupt is re-enabled.
func TestNAPIDeferHardIRQs(t *testing.T) {
	c := newCPU(t, lastCore())
	var polls, reenables, pollsAtReenable atomic.Int64
	n := newNAPI(t, c, func(budget int) int {
		if polls.Add(1) == 1 {
			return 1
		}
		return 0
	}, NAPIOptions{DeferHardIRQs: 2, FlushTimeout: time.Millisecond, Reenable: func() {
		reenables.Add(1)
		pollsAtReenable.Store(polls.Load())
	}})
	fire(irqOn(t, c, func() { n.Schedule() }))
	waitFor(t, "reenable", func() bool { return reenables.Load() == 1 })
	settle()
	if pollsAtReenable.Load() != 3 || polls.Load() != 3 {
		t.Errorf("re-enabled after poll %d, polls %d; want 3 3 (1 with work + 2 deferred)", pollsAtReenable.Load(), polls.Load())
	}

	// Without deferral, the first short poll re-enables.
	polls.Store(0)
	reenables.Store(0)
	n2 := newNAPI(t, c, func(int) int { polls.Add(1); return 1 }, NAPIOptions{Reenable: func() { reenables.Add(1) }})
	n2.Schedule()
	waitFor(t, "reenable", func() bool { return reenables.Load() == 1 })
	if polls.Load() != 1 {
		t.Errorf("polls %d, want 1", polls.Load())
	}
}

func TestNAPIDisableWaitsAndBlocksSchedule(t *testing.T) {
	c := newCPU(t, lastCore())
	var polls atomic.Int64
	g := newGate(t)
	n := newNAPI(t, c, func(int) int {
		if polls.Add(1) == 1 {
			g.wait()
		}
		return 0
	}, NAPIOptions{})
	n.Schedule()
	<-g.entered
	disabled := make(chan struct{})
	go func() { n.Disable(); close(disabled) }()
	select {
	case <-disabled:
		t.Fatal("Disable returned during a poll")
	case <-time.After(20 * time.Millisecond):
	}
	g.release()
	<-disabled
	n.Schedule()
	settle()
	if polls.Load() != 1 {
		t.Errorf("polled %d times; a disabled NAPI must not be polled", polls.Load())
	}
	n.Enable()
	n.Schedule()
	waitFor(t, "poll after Enable", func() bool { return polls.Load() == 2 })
}
