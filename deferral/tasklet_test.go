package deferral

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/rt"
)

// irqOn requests a plain IRQ on c whose handler runs fn, and returns its fd.
func irqOn(t testing.TB, c *CPU, fn func()) int {
	t.Helper()
	fd := newEvent(t)
	if _, err := c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn { fn(); return IRQHandled }, "test"); err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestTaskletNSchedulesOneRun(t *testing.T) {
	c := newCPU(t, lastCore())
	var runs atomic.Int64
	tl := NewTasklet(func() { runs.Add(1) })
	var firstOK, againOK atomic.Int64
	fd := irqOn(t, c, func() {
		for i := 0; i < 5; i++ {
			if tl.Schedule(c) {
				firstOK.Add(1)
			} else {
				againOK.Add(1)
			}
		}
	})
	fire(fd)
	waitFor(t, "run", func() bool { return runs.Load() >= 1 })
	settle()
	if runs.Load() != 1 || firstOK.Load() != 1 || againOK.Load() != 4 {
		t.Errorf("runs %d, successful schedules %d, no-op schedules %d; want 1, 1, 4", runs.Load(), firstOK.Load(), againOK.Load())
	}
}

func TestTaskletRunsOnSchedulingCPU(t *testing.T) {
	for _, core := range []int{0, lastCore()} {
		c := newCPU(t, core)
		var cpu, tid atomic.Int64
		tid.Store(-1)
		tl := NewTasklet(func() { cpu.Store(int64(rt.CurrentCPU())); tid.Store(int64(gettid())) })
		fire(irqOn(t, c, func() { tl.Schedule(c) }))
		waitFor(t, "run", func() bool { return tid.Load() != -1 })
		if int(cpu.Load()) != core || int(tid.Load()) != c.TID() {
			t.Errorf("core %d: ran on cpu %d tid %d, want cpu %d top-half tid %d", core, cpu.Load(), tid.Load(), core, c.TID())
		}
		// Scheduled from process context it runs in that CPU's ksoftirqd.
		tid.Store(-1)
		tl.Schedule(c)
		waitFor(t, "run", func() bool { return tid.Load() != -1 })
		if int(cpu.Load()) != core || int(tid.Load()) != c.KsoftirqdTID() {
			t.Errorf("core %d: ran on cpu %d tid %d, want cpu %d ksoftirqd tid %d", core, cpu.Load(), tid.Load(), core, c.KsoftirqdTID())
		}
	}
}

func TestTaskletScheduleDuringRunGivesOneMoreRun(t *testing.T) {
	c := newCPU(t, lastCore())
	var runs atomic.Int64
	var tl *Tasklet
	tl = NewTasklet(func() {
		if runs.Add(1) == 1 {
			for i := 0; i < 3; i++ {
				tl.Schedule(c) // from its own run
			}
		}
	})
	fire(irqOn(t, c, func() { tl.Schedule(c) }))
	waitFor(t, "runs", func() bool { return runs.Load() >= 2 })
	settle()
	if runs.Load() != 2 {
		t.Errorf("runs %d, want 2", runs.Load())
	}

	// From another thread while it runs.
	runs.Store(0)
	g := newGate(t)
	tl2 := NewTasklet(func() {
		if runs.Add(1) == 1 {
			g.wait()
		}
	})
	fire(irqOn(t, c, func() { tl2.Schedule(c) }))
	<-g.entered
	for i := 0; i < 3; i++ {
		tl2.Schedule(c)
	}
	g.release()
	waitFor(t, "runs", func() bool { return runs.Load() >= 2 })
	settle()
	if runs.Load() != 2 {
		t.Errorf("runs %d, want 2", runs.Load())
	}
}

func TestTaskletNeverConcurrentWithItself(t *testing.T) {
	c0, c1 := newCPU(t, 0), newCPU(t, lastCore())
	var inflight, maxIn, runs atomic.Int64
	tl := NewTasklet(func() {
		n := inflight.Add(1)
		if n > maxIn.Load() {
			maxIn.Store(n)
		}
		for s := time.Now(); time.Since(s) < 20*time.Microsecond; {
		}
		inflight.Add(-1)
		runs.Add(1)
	})
	fd0 := irqOn(t, c0, func() { tl.Schedule(c0) })
	fd1 := irqOn(t, c1, func() { tl.Schedule(c1) })
	for i := 0; i < 2000; i++ {
		fire(fd0)
		fire(fd1)
		if i%50 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	waitFor(t, "runs", func() bool { return !tl.Scheduled() })
	if maxIn.Load() != 1 {
		t.Errorf("max concurrent runs %d, want 1", maxIn.Load())
	}
	if runs.Load() < 2 {
		t.Errorf("only %d runs", runs.Load())
	}
}

func TestTaskletHiBeforeNormal(t *testing.T) {
	c := newCPU(t, lastCore())
	var log logger
	n1 := NewTasklet(func() { log.add("normal1") })
	n2 := NewTasklet(func() { log.add("normal2") })
	h1 := NewHiTasklet(func() { log.add("hi1") })
	h2 := NewHiTasklet(func() { log.add("hi2") })
	fire(irqOn(t, c, func() { n1.Schedule(c); h1.Schedule(c); n2.Schedule(c); h2.Schedule(c) }))
	waitFor(t, "runs", func() bool { return len(log.get()) == 4 })
	if got, want := log.get(), []string{"hi1", "hi2", "normal1", "normal2"}; !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}

func TestTaskletDisableEnableNest(t *testing.T) {
	c := newCPU(t, lastCore())
	var runs atomic.Int64
	tl := NewTasklet(func() { runs.Add(1) })
	tl.Disable()
	tl.Disable()
	fd := irqOn(t, c, func() { tl.Schedule(c) })
	fire(fd)
	settle()
	tl.Enable()
	settle()
	if runs.Load() != 0 {
		t.Fatalf("ran %d times while disabled once more", runs.Load())
	}
	tl.Enable()
	waitFor(t, "run after last Enable", func() bool { return runs.Load() == 1 })
	if tl.Scheduled() {
		t.Error("still scheduled after its run")
	}
}

func TestTaskletKillWaitsForPendingRun(t *testing.T) {
	c := newCPU(t, lastCore())
	var runs atomic.Int64
	g := newGate(t)
	tl := NewTasklet(func() {
		if runs.Add(1) == 1 {
			g.wait()
		}
	})
	fire(irqOn(t, c, func() { tl.Schedule(c) }))
	<-g.entered
	tl.Schedule(c) // pending while running
	killed := make(chan int64)
	go func() { tl.Kill(); killed <- runs.Load() }()
	select {
	case <-killed:
		t.Fatal("Kill returned while the tasklet was running with a run pending")
	case <-time.After(30 * time.Millisecond):
	}
	g.release()
	if n := <-killed; n != 2 {
		t.Errorf("Kill returned after %d runs, want 2 (the pending one)", n)
	}
	if tl.Scheduled() {
		t.Error("scheduled after Kill")
	}
}
