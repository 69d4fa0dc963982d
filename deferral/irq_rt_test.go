package deferral

import (
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/internal/osthread"
	"github.com/uiodrv/uiodrv/rt"
)

// TestTopHalfNoLivelockUnderFIFO reproduces, on the host, the hang of the
// lab's real-time scenario (doc.go, "Real-time threads and the Go runtime's
// system calls"): a top half at SCHED_FIFO 90 and a periodic task at
// SCHED_FIFO 80 share one core, interrupts arrive from the other core, and
// the task sleeps with an ordinary Go system call, as a user's real-time
// task would. If the top half waited in a system call the runtime knows of,
// the task could hold the top half's scan bit (taking its P back on leaving
// its own sleep), be preempted by the top half returning from epoll_wait,
// and the top half would spin in exitsyscall forever above the task that
// would release it: no progress on that core, which RT throttling cannot
// break (both are real-time). The test watches both for progress; on a
// stall it drops the top half to SCHED_OTHER to break the livelock, and
// fails.
//
// Needs root (SCHED_FIFO) and two cores; it keeps one core busy (the
// interrupt generator) for a few seconds.
func TestTopHalfNoLivelockUnderFIFO(t *testing.T) {
	if rt.NumCPU() < 2 {
		t.Skip("needs two cores")
	}
	d := 4 * time.Second
	if testing.Short() {
		d = time.Second
	}
	prev := runtime.GOMAXPROCS(2) // few Ps: the runtime moves them between threads often
	defer runtime.GOMAXPROCS(prev)
	c, err := NewCPU(CPUOptions{CPU: 1, RTPrio: 90, Name: "livelock"})
	if errors.Is(err, rt.ErrRTNotPermitted) {
		t.Skip("SCHED_FIFO not permitted:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	efd, err := newEventfd()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	var irqs atomic.Int64
	a, err := c.RequestIRQ(IRQ{Fd: efd}, func() IRQReturn { irqs.Add(1); return IRQHandled }, "livelock")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Free()

	var stop atomic.Bool
	var taskTID atomic.Int64
	var jobs atomic.Int64
	done := make(chan error, 2)
	osthread.Go(func() { // the interrupt generator, on core 0
		if err := rt.PinThread(0, 0); err != nil {
			done <- err
			return
		}
		for next := time.Now(); !stop.Load(); {
			for time.Now().Before(next) {
			}
			next = next.Add(20 * time.Microsecond)
			eventfdSignal(efd)
		}
		done <- nil
	})
	osthread.Go(func() { // the real-time task, on the top half's core, below it
		if err := rt.ConfigureThread(rt.ThreadAttrs{Name: "rt-task", CPU: 1, Sched: rt.FIFO(80)}); err != nil {
			done <- err
			return
		}
		taskTID.Store(int64(gettid()))
		ts := unix.Timespec{Nsec: 50_000}
		for !stop.Load() {
			_ = unix.ClockNanosleep(unix.CLOCK_MONOTONIC, 0, &ts, nil) // an ordinary Go system call
			jobs.Add(1)
		}
		_ = rt.SetThreadSched(0, rt.Sched{Policy: rt.PolicyOther})
		done <- nil
	})
	var stalled time.Duration
	lastI, lastJ := irqs.Load(), jobs.Load()
	for start := time.Now(); time.Since(start) < d; {
		time.Sleep(100 * time.Millisecond)
		i, j := irqs.Load(), jobs.Load()
		if i == lastI && j == lastJ {
			stalled += 100 * time.Millisecond
		} else {
			stalled = 0
		}
		lastI, lastJ = i, j
		if stalled >= time.Second {
			break
		}
	}
	if stalled >= time.Second {
		// Break the livelock so that the test can end: the spinning top
		// half to SCHED_OTHER lets the task run and release it.
		_ = rt.SetThreadSched(c.TID(), rt.Sched{Policy: rt.PolicyOther})
		_ = rt.SetThreadSched(int(taskTID.Load()), rt.Sched{Policy: rt.PolicyOther})
	}
	stop.Store(true)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if stalled >= time.Second {
		t.Fatalf("livelock: neither the top half nor the task made progress for %v (%d interrupts, %d task jobs before)", stalled, lastI, lastJ)
	}
	if lastI == 0 || lastJ == 0 {
		t.Fatalf("no progress at all: %d interrupts, %d task jobs", lastI, lastJ)
	}
	t.Logf("%d interrupts and %d task jobs in %v, no stall", lastI, lastJ, d)
	_ = os.Stdout.Sync()
}
