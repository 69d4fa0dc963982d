package deferral

import (
	"sync/atomic"
	"testing"

	"github.com/uiodrv/uiodrv/rt"
)

// The single-thread threaded IRQ runs its thread function on the CPU's
// top-half thread (no thread of its own), drains a backlog, re-enables once
// drained, and a Schedule from another thread still gets a run.
func TestInlineThreadedRunsOnTopHalf(t *testing.T) {
	waitLockedGone(t)
	c := newCPU(t, lastCore())
	locked := rt.LockedThreads()
	var backlog, polls, reenables, tid atomic.Int64
	e, err := NewExecutor(ExecutorOptions{Mode: ModeThreaded, Inline: true, CPU: c, Poll: func(budget int) int {
		polls.Add(1)
		tid.Store(int64(gettid()))
		n := min(int64(budget), backlog.Load())
		backlog.Add(-n)
		return int(n)
	}, Reenable: func() { reenables.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if n := rt.LockedThreads(); n != locked {
		t.Errorf("inline executor started %d threads, want none", n-locked)
	}
	backlog.Store(1000)
	fire(irqOn(t, c, func() { e.Schedule() }))
	waitFor(t, "backlog drained", func() bool { return backlog.Load() == 0 })
	waitFor(t, "reenable", func() bool { return reenables.Load() == 1 })
	if p := polls.Load(); p != 1000/64+1 {
		t.Errorf("%d polls for 1000 items at weight 64, want %d", p, 1000/64+1)
	}
	if int(tid.Load()) != c.TID() {
		t.Errorf("thread function ran on tid %d, want the top half's %d", tid.Load(), c.TID())
	}
	// From another thread (a bottom half freeing buffers, a test): the top
	// half is kicked and runs it.
	backlog.Store(10)
	e.Schedule()
	waitFor(t, "run woken from another thread", func() bool { return reenables.Load() == 2 })
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	runs := e.(*inlineExec).Runs()
	e.Schedule() // after Close: nothing runs
	settle()
	if r := e.(*inlineExec).Runs(); r != runs {
		t.Errorf("ran %d times after Close", r-runs)
	}
}

func TestInlineRefusals(t *testing.T) {
	c := newCPU(t, lastCore())
	poll := func(int) int { return 0 }
	if _, err := NewExecutor(ExecutorOptions{Mode: ModeTasklet, Inline: true, CPU: c, Poll: poll}); err == nil {
		t.Error("Inline accepted in tasklet mode")
	}
	if _, err := NewExecutor(ExecutorOptions{Mode: ModeThreaded, Inline: true, ThreadPrio: 50, CPU: c, Poll: poll}); err == nil {
		t.Error("Inline accepted with ThreadPrio")
	}
}
