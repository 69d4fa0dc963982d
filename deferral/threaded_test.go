package deferral

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/rt"
)

func TestThreadedIRQNilPrimaryNeedsOneshot(t *testing.T) {
	c := newCPU(t, lastCore())
	fd := newEvent(t)
	thread := func() IRQReturn { return IRQHandled }
	if _, err := c.RequestThreadedIRQ(IRQ{Fd: fd}, nil, thread, ThreadedIRQOptions{}, "x"); err == nil {
		t.Fatal("nil primary without ONESHOT accepted")
	}
	var runs atomic.Int64
	a, err := c.RequestThreadedIRQ(IRQ{Fd: fd}, nil, func() IRQReturn { runs.Add(1); return IRQHandled }, ThreadedIRQOptions{Flags: IRQFOneshot}, "x")
	if err != nil {
		t.Fatal(err)
	}
	fire(fd)
	waitFor(t, "thread run", func() bool { return runs.Load() == 1 })
	a.Free()
}

func TestThreadedIRQThreadAttributes(t *testing.T) {
	c := newCPU(t, lastCore())
	fd := newEvent(t)
	var cpu, tid atomic.Int64
	a, err := c.RequestThreadedIRQ(IRQ{Fd: fd}, nil, func() IRQReturn {
		cpu.Store(int64(rt.CurrentCPU()))
		tid.Store(int64(gettid()))
		return IRQHandled
	}, ThreadedIRQOptions{Flags: IRQFOneshot}, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	pol, prio, _, err := rt.ThreadSched(a.ThreadTID())
	if err != nil {
		t.Fatal(err)
	}
	if pol != unix.SCHED_FIFO || prio != DefaultIRQThreadPrio {
		t.Errorf("thread policy %d prio %d, want SCHED_FIFO %d", pol, prio, DefaultIRQThreadPrio)
	}
	if name, _ := rt.ThreadName(a.ThreadTID()); name != fmt.Sprintf("irq/%d-eth0", a.Num()) {
		t.Errorf("thread name %q", name)
	}
	fire(fd)
	waitFor(t, "run", func() bool { return tid.Load() != 0 })
	if int(tid.Load()) != a.ThreadTID() || int(cpu.Load()) != lastCore() {
		t.Errorf("ran on tid %d cpu %d, want %d on %d", tid.Load(), cpu.Load(), a.ThreadTID(), lastCore())
	}
	// Affinity changes apply between runs.
	if err := a.SetAffinity(0); err != nil {
		t.Fatal(err)
	}
	fire(fd)
	waitFor(t, "run on the new core", func() bool { return cpu.Load() == 0 })

	// Other priorities.
	b, err := c.RequestThreadedIRQ(IRQ{Fd: newEvent(t)}, nil, func() IRQReturn { return IRQHandled }, ThreadedIRQOptions{Flags: IRQFOneshot, ThreadPrio: -1}, "other")
	if err != nil {
		t.Fatal(err)
	}
	if pol, _, _, _ := rt.ThreadSched(b.ThreadTID()); pol != unix.SCHED_NORMAL {
		t.Errorf("ThreadPrio -1: policy %d", pol)
	}
}

// ONESHOT: masked from before the primary until the thread returns; what
// fires meanwhile gives one more run after the unmask.
func TestThreadedIRQOneshotMasksUntilThreadReturns(t *testing.T) {
	c := newCPU(t, lastCore())
	fd := newEvent(t)
	var masks, unmasks, primaries, runs atomic.Int64
	g := newGate(t)
	a, err := c.RequestThreadedIRQ(IRQ{Fd: fd, Mask: func() { masks.Add(1) }, Unmask: func() { unmasks.Add(1) }},
		func() IRQReturn { primaries.Add(1); return IRQWakeThread },
		func() IRQReturn {
			if runs.Add(1) == 1 {
				g.wait()
			}
			return IRQHandled
		}, ThreadedIRQOptions{Flags: IRQFOneshot}, "oneshot")
	if err != nil {
		t.Fatal(err)
	}
	fire(fd)
	<-g.entered
	for i := 0; i < 5; i++ {
		fire(fd)
	}
	settle()
	if masks.Load() != 1 || unmasks.Load() != 0 || primaries.Load() != 1 {
		t.Fatalf("during the thread run: masks %d unmasks %d primaries %d, want 1 0 1", masks.Load(), unmasks.Load(), primaries.Load())
	}
	g.release()
	waitFor(t, "second run", func() bool { return runs.Load() >= 2 })
	waitFor(t, "unmask", func() bool { return unmasks.Load() == 2 })
	settle()
	if runs.Load() != 2 || primaries.Load() != 2 || masks.Load() != 2 {
		t.Errorf("runs %d primaries %d masks %d, want 2 2 2", runs.Load(), primaries.Load(), masks.Load())
	}
	if a.Count() != 2 {
		t.Errorf("Count %d, want 2", a.Count())
	}
}

// Without ONESHOT, interrupts during a run each run the primary and merge
// into exactly one more thread run (IRQTF_RUNTHREAD).
func TestThreadedIRQMergesWakesDuringRun(t *testing.T) {
	c := newCPU(t, lastCore())
	fd := newEvent(t)
	var primaries, runs atomic.Int64
	g := newGate(t)
	_, err := c.RequestThreadedIRQ(IRQ{Fd: fd},
		func() IRQReturn { primaries.Add(1); return IRQWakeThread },
		func() IRQReturn {
			if runs.Add(1) == 1 {
				g.wait()
			}
			return IRQHandled
		}, ThreadedIRQOptions{}, "merge")
	if err != nil {
		t.Fatal(err)
	}
	fire(fd)
	<-g.entered
	for i := 0; i < 5; i++ {
		fire(fd)
		want := int64(i + 2)
		waitFor(t, "primary", func() bool { return primaries.Load() == want })
	}
	g.release()
	waitFor(t, "second run", func() bool { return runs.Load() >= 2 })
	settle()
	if runs.Load() != 2 {
		t.Errorf("thread runs %d for 6 interrupts with 5 during the first run, want 2", runs.Load())
	}
}

func TestThreadedIRQPrimaryReturns(t *testing.T) {
	c := newCPU(t, lastCore())
	fd := newEvent(t)
	var ret atomic.Int64
	var runs, primaries atomic.Int64
	a, err := c.RequestThreadedIRQ(IRQ{Fd: fd},
		func() IRQReturn { r := IRQReturn(ret.Load()); primaries.Add(1); return r },
		func() IRQReturn { runs.Add(1); return IRQHandled }, ThreadedIRQOptions{}, "ret")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []IRQReturn{IRQNone, IRQHandled, IRQWakeThread} {
		ret.Store(int64(r))
		fire(fd)
		// Wait for the primary handler itself (not Count, which rises before
		// it runs): the next Store must not reach this interrupt's handler.
		waitFor(t, "primary handler", func() bool { return primaries.Load() == int64(i+1) })
	}
	waitFor(t, "thread run", func() bool { return runs.Load() == 1 })
	settle()
	if runs.Load() != 1 || a.Spurious() != 1 {
		t.Errorf("thread runs %d spurious %d, want 1 1 (only WAKE_THREAD wakes, NONE counts)", runs.Load(), a.Spurious())
	}
}

func TestThreadedIRQFreeWaitsForThread(t *testing.T) {
	c := newCPU(t, lastCore())
	fd := newEvent(t)
	g := newGate(t)
	var finished atomic.Bool
	a, err := c.RequestThreadedIRQ(IRQ{Fd: fd}, nil, func() IRQReturn { g.wait(); finished.Store(true); return IRQHandled },
		ThreadedIRQOptions{Flags: IRQFOneshot}, "free")
	if err != nil {
		t.Fatal(err)
	}
	fire(fd)
	<-g.entered
	freed := make(chan struct{})
	go func() { a.Free(); close(freed) }()
	select {
	case <-freed:
		t.Fatal("Free returned while the thread ran")
	case <-time.After(30 * time.Millisecond):
	}
	g.release()
	<-freed
	if !finished.Load() {
		t.Error("Free returned before the thread function did")
	}
	tid := a.ThreadTID()
	waitFor(t, "thread exit", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid))
		return err != nil
	})
	a.Free() // idempotent
	n := a.Count()
	fire(fd)
	settle()
	if a.Count() != n {
		t.Error("handler ran after Free")
	}
}

func TestIRQDisableEnableNest(t *testing.T) {
	c := newCPU(t, lastCore())
	fd := newEvent(t)
	var runs atomic.Int64
	a, err := c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn { runs.Add(1); return IRQHandled }, "dis")
	if err != nil {
		t.Fatal(err)
	}
	a.Disable()
	a.Disable()
	fire(fd)
	fire(fd)
	a.Enable()
	settle()
	if runs.Load() != 0 {
		t.Fatal("ran while disabled")
	}
	a.Enable()
	waitFor(t, "pending interrupt after Enable", func() bool { return runs.Load() == 1 })
	settle()
	if runs.Load() != 1 {
		t.Errorf("runs %d, want 1 (two events while masked merge)", runs.Load())
	}
}
