package deferral

import (
	"flag"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/rt"
)

func TestModeStringParse(t *testing.T) {
	for _, m := range Modes() {
		got, err := ParseMode(strings.ToUpper(m.String()))
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	want := []string{"tasklet", "softirq", "workqueue", "threaded", "napi", "busypoll", "adaptive"}
	for i, m := range Modes() {
		if m.String() != want[i] {
			t.Errorf("mode %d is %q, want %q", i, m, want[i])
		}
	}
	_, err := ParseMode("bogus")
	if err == nil || !strings.Contains(err.Error(), "tasklet, softirq, workqueue, threaded, napi, busypoll, adaptive") {
		t.Errorf("ParseMode(bogus) error %v does not list the modes", err)
	}
	var m Mode
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&m, "mode", "")
	if err := fs.Parse([]string{"-mode", "napi"}); err != nil || m != ModeNAPI {
		t.Errorf("flag: %v %v", m, err)
	}
	if Mode(42).String() != "Mode(42)" {
		t.Error(Mode(42).String())
	}
}

// Each mode drains a backlog scheduled from the top half, in its context, and
// re-enables the source when done.
func TestExecutorModes(t *testing.T) {
	for _, m := range Modes() {
		t.Run(m.String(), func(t *testing.T) {
			c := newCPU(t, lastCore())
			var backlog, polls, reenables atomic.Int64
			var tid, cpu atomic.Int64
			e, err := NewExecutor(ExecutorOptions{Mode: m, CPU: c, Poll: func(budget int) int {
				polls.Add(1)
				tid.Store(int64(gettid()))
				cpu.Store(int64(rt.CurrentCPU()))
				n := min(int64(budget), backlog.Load())
				backlog.Add(-n)
				return int(n)
			}, Reenable: func() { reenables.Add(1) }})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if e.Mode() != m {
				t.Errorf("Mode() = %v", e.Mode())
			}
			backlog.Store(1000)
			fire(irqOn(t, c, func() { e.Schedule() }))
			waitFor(t, "backlog drained", func() bool { return backlog.Load() == 0 })
			if m != ModeBusyPoll {
				waitFor(t, "reenable", func() bool { return reenables.Load() >= 1 })
				if p := polls.Load(); p < 1000/64+1 {
					t.Errorf("%d polls for 1000 items at weight 64", p)
				}
			} else if reenables.Load() != 0 {
				t.Error("busy poll re-enabled interrupts")
			}
			if int(cpu.Load()) != lastCore() {
				t.Errorf("ran on cpu %d, want %d", cpu.Load(), lastCore())
			}
			pol, prio, nice, _ := rt.ThreadSched(int(tid.Load()))
			switch m {
			case ModeTasklet, ModeSoftirq, ModeNAPI:
				if id := int(tid.Load()); id != c.TID() && id != c.KsoftirqdTID() {
					t.Errorf("ran on tid %d, not in softirq context of the CPU", id)
				}
			case ModeThreaded:
				if pol != unix.SCHED_FIFO || prio != DefaultIRQThreadPrio {
					t.Errorf("thread policy %d prio %d", pol, prio)
				}
			case ModeWorkqueue:
				if pol != unix.SCHED_NORMAL || nice != -20 {
					t.Errorf("worker policy %d nice %d", pol, nice)
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e.Close()
		})
	}
}

func TestExecutorErrors(t *testing.T) {
	if _, err := NewExecutor(ExecutorOptions{}); err == nil {
		t.Error("no CPU accepted")
	}
	c := newCPU(t, 0)
	poll := func(int) int { return 0 }
	if _, err := NewExecutor(ExecutorOptions{Mode: Mode(99), CPU: c, Poll: poll}); err == nil {
		t.Error("bad mode accepted")
	}
	e, err := NewExecutor(ExecutorOptions{Mode: ModeSoftirq, CPU: c, Poll: poll, Softirq: BlockSoftirq})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := NewExecutor(ExecutorOptions{Mode: ModeSoftirq, CPU: c, Poll: poll, Softirq: BlockSoftirq}); err == nil {
		t.Error("second executor on the same softirq accepted")
	}
}

// Closing everything leaves no goroutine and no thread behind.
func TestCloseLeavesNothing(t *testing.T) {
	g0 := numGoroutine()
	var tids tidSet
	c, err := NewCPU(CPUOptions{CPU: 0, RTPrio: rtPrio, Name: "leak"})
	if err != nil {
		t.Fatal(err)
	}
	var execs []Executor
	for _, m := range Modes() {
		e, err := NewExecutor(ExecutorOptions{Mode: m, CPU: c, Softirq: BlockSoftirq, Poll: func(int) int { tids.add(); return 0 }})
		if err != nil {
			t.Fatal(m, err)
		}
		execs = append(execs, e)
	}
	fd := newEvent(t)
	a, err := c.RequestThreadedIRQ(IRQ{Fd: fd}, nil, func() IRQReturn {
		for _, e := range execs {
			e.Schedule()
		}
		return IRQHandled
	}, ThreadedIRQOptions{Flags: IRQFOneshot}, "leak")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		fire(fd)
	}
	waitFor(t, "a run", func() bool { return a.ThreadRuns() > 0 })
	for _, e := range execs {
		e.Close()
	}
	c.Close()
	c.Close()
	a.Free()
	goroutinesSettle(t, g0)
	tids.m.Store(c.TID(), true)
	tids.m.Store(c.KsoftirqdTID(), true)
	tids.m.Store(a.ThreadTID(), true)
	tids.waitGone(t)
	if _, err := c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn { return IRQHandled }, "late"); err == nil {
		t.Error("RequestIRQ on a closed CPU succeeded")
	}
}
