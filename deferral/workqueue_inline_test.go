package deferral

import (
	"sync/atomic"
	"testing"

	"github.com/uiodrv/uiodrv/rt"
)

// newInlineWorkT builds a single-thread workqueue executor on c around poll.
func newInlineWorkT(t *testing.T, c *CPU, poll func(int) int, reenable func()) *inlineWork {
	t.Helper()
	e, err := NewExecutor(ExecutorOptions{Mode: ModeWorkqueue, Inline: true, CPU: c, Poll: poll, Reenable: reenable})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e.(*inlineWork)
}

// The single-thread workqueue runs its item on the CPU's top-half thread (no
// worker thread), drains a backlog one poll per round, re-enables once
// drained, and a Schedule from another thread still gets a run.
func TestInlineWorkRunsOnTopHalf(t *testing.T) {
	waitLockedGone(t)
	c := newCPU(t, lastCore())
	locked := rt.LockedThreads()
	var backlog, polls, reenables, tid atomic.Int64
	e := newInlineWorkT(t, c, func(budget int) int {
		polls.Add(1)
		tid.Store(int64(gettid()))
		n := min(int64(budget), backlog.Load())
		backlog.Add(-n)
		return int(n)
	}, func() { reenables.Add(1) })
	if n := rt.LockedThreads(); n != locked {
		t.Errorf("inline workqueue started %d threads, want none", n-locked)
	}
	if e.Mode() != ModeWorkqueue {
		t.Errorf("mode %v", e.Mode())
	}
	backlog.Store(1000)
	fire(irqOn(t, c, func() { e.Schedule() }))
	waitFor(t, "backlog drained", func() bool { return backlog.Load() == 0 })
	waitFor(t, "reenable", func() bool { return reenables.Load() == 1 })
	if p := polls.Load(); p != 1000/64+1 {
		t.Errorf("%d polls for 1000 items at weight 64, want %d", p, 1000/64+1)
	}
	if r := e.Runs(); r != 1000/64+1 {
		t.Errorf("%d runs, want one per poll (%d)", r, 1000/64+1)
	}
	if int(tid.Load()) != c.TID() || e.TID() != c.TID() {
		t.Errorf("work ran on tid %d (TID %d), want the top half's %d", tid.Load(), e.TID(), c.TID())
	}
	backlog.Store(10)
	e.Schedule() // from this goroutine's thread: the top half is kicked
	waitFor(t, "run queued from another thread", func() bool { return reenables.Load() == 2 })
}

// A work item that re-queues itself goes back through the worker's loop, as
// a re-queued item goes to the tail of its pool's worklist: an interrupt
// raised during one run is handled before the next run, not after the item
// has drained its backlog (which is what the single-thread threaded IRQ,
// irq_thread's loop, does).
func TestInlineWorkRequeueLetsInterruptsIn(t *testing.T) {
	c := newCPU(t, lastCore())
	var log logger
	var backlog atomic.Int64
	other := newEvent(t)
	if _, err := c.RequestIRQ(IRQ{Fd: other}, func() IRQReturn { log.add("irq"); return IRQHandled }, "other"); err != nil {
		t.Fatal(err)
	}
	var polls int // the top half's thread only
	e := newInlineWorkT(t, c, func(budget int) int {
		polls++
		log.add("poll")
		if polls == 2 {
			fire(other)
		}
		n := min(int64(budget), backlog.Load())
		backlog.Add(-n)
		return int(n)
	}, nil)
	backlog.Store(4 * 64)
	fire(irqOn(t, c, func() { e.Schedule() }))
	waitFor(t, "backlog drained", func() bool { return backlog.Load() == 0 && len(log.get()) >= 6 })
	got := log.get()
	want := []string{"poll", "poll", "irq", "poll", "poll", "poll"}
	if len(got) != len(want) {
		t.Fatalf("log %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("log %v, want %v: the interrupt raised in the 2nd run must be handled before the 3rd", got, want)
		}
	}
}

// queue_work on a pending item is a no-op: three Schedules in one primary
// handler give one run.
func TestInlineWorkPendingMerges(t *testing.T) {
	c := newCPU(t, lastCore())
	var polls atomic.Int64
	e := newInlineWorkT(t, c, func(int) int { polls.Add(1); return 0 }, nil)
	fire(irqOn(t, c, func() { e.Schedule(); e.Schedule(); e.Schedule() }))
	waitFor(t, "run", func() bool { return polls.Load() >= 1 })
	settle()
	if p := polls.Load(); p != 1 {
		t.Errorf("%d runs for 3 Schedules while pending, want 1", p)
	}
}

// Close is cancel_work_sync: it waits for a running item, and nothing runs
// after it.
func TestInlineWorkCloseWaitsForRunning(t *testing.T) {
	c := newCPU(t, lastCore())
	entered, release := make(chan struct{}), make(chan struct{})
	var polls atomic.Int64
	e := newInlineWorkT(t, c, func(int) int {
		if polls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return 0
	}, nil)
	e.Schedule()
	<-entered
	closed := make(chan struct{})
	go func() { e.Close(); close(closed) }()
	settle()
	select {
	case <-closed:
		t.Fatal("Close returned while the item was running")
	default:
	}
	close(release)
	<-closed
	e.Schedule()
	settle()
	if p := polls.Load(); p != 1 {
		t.Errorf("%d runs, want none after Close", p-1)
	}
}

func TestInlineWorkRefusals(t *testing.T) {
	c := newCPU(t, lastCore())
	poll := func(int) int { return 0 }
	wq, err := NewWorkqueue("t", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer wq.Close()
	if _, err := NewExecutor(ExecutorOptions{Mode: ModeWorkqueue, Inline: true, Workqueue: wq, CPU: c, Poll: poll}); err == nil {
		t.Error("Inline accepted with a shared Workqueue")
	}
	if _, err := NewExecutor(ExecutorOptions{Mode: ModeWorkqueue, Inline: true, ThreadPrio: 50, CPU: c, Poll: poll}); err == nil {
		t.Error("Inline workqueue accepted with ThreadPrio")
	}
}
