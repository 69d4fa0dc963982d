package deferral

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/rt"
)

var dl200 = rt.Deadline(200*time.Microsecond, time.Millisecond, time.Millisecond)

// requireDeadline skips when the process cannot use SCHED_DEADLINE at all
// (no CAP_SYS_NICE); every other refusal fails the test.
func requireDeadline(t *testing.T) {
	t.Helper()
	if err := rt.ProbeSched(dl200, -1, 1); errors.Is(err, rt.ErrRTNotPermitted) {
		t.Skip("SCHED_DEADLINE needs CAP_SYS_NICE")
	}
}

// TestDeadlineThreadedAndWorkqueue runs the threaded and workqueue bottom
// halves under SCHED_DEADLINE and checks, from the kernel, that their threads
// got it (sched_getattr and /proc/self/task/TID/stat's policy field), and
// that they still run their work.
func TestDeadlineThreadedAndWorkqueue(t *testing.T) {
	requireDeadline(t)
	c := newCPU(t, 0)
	for _, mode := range []Mode{ModeThreaded, ModeWorkqueue} {
		var tid, runs atomic.Int64
		e, err := NewExecutor(ExecutorOptions{Mode: mode, CPU: c, Sched: dl200, Name: "dl", Poll: func(int) int {
			tid.Store(int64(gettid()))
			runs.Add(1)
			return 0
		}})
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		for range 3 {
			before := runs.Load()
			if err := c.exec(e.Schedule); err != nil {
				t.Fatal(err)
			}
			waitFor(t, mode.String()+" run", func() bool { return runs.Load() > before })
		}
		got, err := rt.ThreadSchedOf(int(tid.Load()))
		if err != nil || got != dl200 {
			t.Errorf("%v: bottom-half thread sched %v, %v; want %v", mode, got, err, dl200)
		}
		if pol := statPolicy(t, int(tid.Load())); pol != unix.SCHED_DEADLINE {
			t.Errorf("%v: /proc stat policy %d, want %d", mode, pol, unix.SCHED_DEADLINE)
		}
		e.Close()
	}
}

// statPolicy reads field 41 (policy) of /proc/self/task/TID/stat.
func statPolicy(t *testing.T, tid int) int {
	t.Helper()
	pol, _, err := rt.ProcThreadPolicy(0, tid)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// TestLockedThreadsCount checks the count rt.SizeGOMAXPROCS sizes from: a CPU
// locks two threads, a threaded executor one more, and all are given back.
func TestLockedThreadsCount(t *testing.T) {
	waitLockedGone(t)
	base := rt.LockedThreads()
	c, err := NewCPU(CPUOptions{CPU: 0, Name: "count"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewExecutor(ExecutorOptions{Mode: ModeThreaded, CPU: c, ThreadPrio: -1, Poll: func(int) int { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if got := rt.LockedThreads() - base; got != 3 {
		t.Errorf("locked threads after a CPU and a threaded executor: +%d, want +3", got)
	}
	prev, now := rt.SizeGOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	if want := runtime.NumCPU() + rt.LockedThreads() + 1; now != want || runtime.GOMAXPROCS(0) != want {
		t.Errorf("rt.SizeGOMAXPROCS(1) = %d (GOMAXPROCS %d), want %d", now, runtime.GOMAXPROCS(0), want)
	}
	e.Close()
	c.Close()
	waitFor(t, "threads to exit", func() bool { return rt.LockedThreads() == base })
}

// TestDeadlineBudgetYields runs a threaded deadline bottom half that is
// never drained: its polls keep the full weight, and it gives up its
// instance (rt.Budget) once its runtime is used, rather than wait for the
// kernel's tick to throttle it.
func TestDeadlineBudgetYields(t *testing.T) {
	requireDeadline(t)
	c := newCPU(t, 0)
	var small, polls atomic.Int64
	spin := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
		}
	}
	var stop atomic.Bool
	_, y0 := rt.BudgetStats()
	e, err := NewExecutor(ExecutorOptions{Mode: ModeThreaded, CPU: c, Sched: dl200, Name: "budget", Poll: func(budget int) int {
		if stop.Load() {
			return 0
		}
		polls.Add(1)
		if budget < NAPIPollWeight {
			small.Add(1)
		}
		spin(time.Duration(budget) * 5 * time.Microsecond)
		return budget
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.exec(e.Schedule); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	e.Close()
	_, y1 := rt.BudgetStats()
	p, s := polls.Load(), small.Load()
	switch {
	case p < 10:
		t.Errorf("%d polls in 300 ms", p)
	case s > 1:
		t.Errorf("%d polls, %d of them cut below the full weight: want the full weight", p, s)
	case y1 == y0:
		t.Errorf("the bottom half never yielded its instance")
	}
	t.Logf("%d polls, %d short, %d yields", p, s, y1-y0)
}

// TestCPUTopHalfSched: a CPU's top half takes a scheduling class instead of
// an RT priority (the bottom half's, so that nothing runs above it), and
// still takes interrupts; contradictory options are refused before any
// thread starts.
func TestCPUTopHalfSched(t *testing.T) {
	if _, err := NewCPU(CPUOptions{CPU: 0, RTPrio: 90, Sched: rt.FIFO(50)}); err == nil {
		t.Error("RTPrio and Sched together accepted")
	}
	if _, err := NewCPU(CPUOptions{CPU: 0, Sched: dl200}); !errors.Is(err, rt.ErrDeadlineAffinity) {
		t.Errorf("pinned deadline top half: %v; want rt.ErrDeadlineAffinity", err)
	}
	requireDeadline(t)
	for _, s := range []rt.Sched{rt.FIFO(50), dl200} {
		cpu := 0
		if s.Policy == rt.PolicyDeadline {
			cpu = -1
		}
		c, err := NewCPU(CPUOptions{CPU: cpu, Sched: s, Name: "ths"})
		if err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		got, err := rt.ThreadSchedOf(c.TID())
		if err != nil || got != s {
			t.Errorf("top half sched %v, %v; want %v", got, err, s)
		}
		fd, err := newEventfd()
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		a, err := c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn { n.Add(1); return IRQHandled }, "ths")
		if err != nil {
			t.Fatal(err)
		}
		one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
		if _, err := unix.Write(fd, one); err != nil {
			t.Fatal(err)
		}
		waitFor(t, s.String()+" interrupt", func() bool { return n.Load() > 0 })
		a.Free()
		c.Close()
		unix.Close(fd)
	}
}

func TestBottomHalfSched(t *testing.T) {
	for _, c := range []struct {
		mode Mode
		s    rt.Sched
		prio int
		want rt.Sched
	}{
		{ModeThreaded, rt.Sched{}, 0, rt.FIFO(DefaultIRQThreadPrio)},
		{ModeThreaded, rt.Sched{}, 30, rt.FIFO(30)},
		{ModeThreaded, rt.Sched{}, -1, rt.Sched{Policy: rt.PolicyOther}},
		{ModeThreaded, dl200, 0, dl200},
		{ModeWorkqueue, rt.Sched{}, 0, rt.Sched{Policy: rt.PolicyOther, Nice: -20}},
		{ModeWorkqueue, dl200, 0, dl200},
		{ModeTasklet, rt.Sched{}, 0, rt.Sched{}},
	} {
		if got := BottomHalfSched(c.mode, c.s, c.prio); got != c.want {
			t.Errorf("BottomHalfSched(%v, %v, %d) = %v, want %v", c.mode, c.s, c.prio, got, c.want)
		}
	}
}

// TestSchedRefusedForTasklet: a class is for modes with a bottom-half thread.
func TestSchedRefusedForTasklet(t *testing.T) {
	if _, err := NewExecutor(ExecutorOptions{Mode: ModeTasklet, CPU: newCPU(t, 0), Sched: dl200, Poll: func(int) int { return 0 }}); err == nil {
		t.Errorf("Sched accepted for a tasklet")
	}
}
