package deferral

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// The adaptive executor at light load on the real clock: frames arrive at a
// fixed rate from a pacer thread, which plays the NIC (a pending count) and
// its interrupt (Schedule when armed, as a latched cause raises on re-arm).
// It measures what each frame costs: interrupts, polls, the deferral's
// timer wake-ups, and the CPU time of the executor's thread, beside the
// executor with its deferral alone (alwaysDefer: the behaviour before the
// light-load re-arm) in the same run.

// pacedWire is the NIC side of the paced run.
type pacedWire struct {
	pending  atomic.Int64
	consumed atomic.Int64
	armed    atomic.Bool
	irqs     atomic.Uint64
	x        Executor
}

// poll takes what has arrived, up to budget. Only poll lowers pending, so
// what it read is still there when it subtracts.
func (w *pacedWire) poll(budget int) int {
	n := min(w.pending.Load(), int64(budget))
	w.pending.Add(-n)
	w.consumed.Add(n)
	return int(n)
}

// interrupt schedules the executor if the interrupt is armed, and disarms
// it (the top half masks the cause).
func (w *pacedWire) interrupt() {
	if w.armed.CompareAndSwap(true, false) {
		w.irqs.Add(1)
		w.x.Schedule()
	}
}

// reenable re-arms; frames that arrived meanwhile interrupt at once.
func (w *pacedWire) reenable() {
	w.armed.Store(true)
	if w.pending.Load() > 0 {
		w.interrupt()
	}
}

// pace delivers frames at period on the calling goroutine's own OS thread,
// waking with clock_nanosleep (hrSleep) for each arrival.
func (w *pacedWire) pace(frames int, period time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	start := time.Since(monoBase)
	for i := 0; i < frames; i++ {
		if d := start + time.Duration(i)*period - time.Since(monoBase); d > 0 {
			hrSleep(d)
		}
		w.pending.Add(1)
		w.interrupt()
	}
}

// threadCPU is the CPU time of thread tid of this process
// (CLOCK_THREAD_CPUTIME for another thread: MAKE_THREAD_CPUCLOCK(tid,
// CPUCLOCK_SCHED)).
func threadCPU(tb testing.TB, tid int) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(int32(^tid<<3|6), &ts); err != nil {
		tb.Fatalf("thread %d CPU clock: %v", tid, err)
	}
	return time.Duration(ts.Nano())
}

func processCPU(tb testing.TB) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pacedRun is one paced run's figures, per frame.
type pacedRun struct {
	irqs, polls, waits, quick float64
	threadUs, procUs          float64
	lost                      int64
}

// runPaced sends frames at rate through a fresh adaptive executor and
// returns its cost per frame.
func runPaced(tb testing.TB, rate, frames int, alwaysDefer bool) pacedRun {
	w := &pacedWire{}
	w.armed.Store(true)
	e, err := newAdaptiveExecClock(ExecutorOptions{Mode: ModeAdaptive, CPU: newCPU(tb, lastCore()), Poll: w.poll,
		Weight: NAPIPollWeight, Name: "paced"}, w.reenable, hrSleeper{})
	if err != nil {
		tb.Fatal(err)
	}
	defer e.Close()
	e.alwaysDefer = alwaysDefer // before the first Schedule: the wake's channel orders it
	w.x = e
	cpu0, proc0 := threadCPU(tb, e.t.tid), processCPU(tb)
	w.pace(frames, time.Second/time.Duration(rate))
	for end := time.Now().Add(time.Second); w.consumed.Load() < int64(frames) && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(2 * e.window) // the last run re-arms
	st, n := e.Stats(), float64(frames)
	return pacedRun{irqs: float64(w.irqs.Load()) / n, polls: float64(st.Polls) / n, waits: float64(st.Waits) / n,
		quick: float64(st.QuickRearms) / n, threadUs: float64(threadCPU(tb, e.t.tid)-cpu0) / 1e3 / n,
		procUs: float64(processCPU(tb)-proc0) / 1e3 / n, lost: int64(frames) - w.consumed.Load()}
}

// TestAdaptivePacedLightLoad: at 1000 and 5000 frames/s on the real clock,
// every frame is carried, each costs one interrupt, and after the first
// few no deferral wait: at most 2.2 polls and 0.25 waits per frame (the
// deferral alone, alongside, costs 4 polls and 2 waits). Waits that remain
// come from the pacer's own lateness on a busy machine: a late thread sends
// a pair back to back, which brings the deferral back for a few runs.
func TestAdaptivePacedLightLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, rate := range []int{1000, 5000} {
		frames := rate / 2 // half a second
		got, base := runPaced(t, rate, frames, false), runPaced(t, rate, frames, true)
		t.Logf("%d/s: light-load %+v; deferral alone %+v", rate, got, base)
		if got.lost != 0 || base.lost != 0 {
			t.Fatalf("%d/s: %d and %d frames never polled", rate, got.lost, base.lost)
		}
		if got.polls > 2.2 || got.waits > 0.25 {
			t.Errorf("%d/s: %.2f polls and %.3f waits per frame; want at most 2.2 and 0.25", rate, got.polls, got.waits)
		}
	}
}

// BenchmarkAdaptivePaced: one op is one frame at the rate. Read polls/frame,
// waits/frame and thread-µs/frame (the executor's thread) against the
// alwaysDefer baseline of the same run.
func BenchmarkAdaptivePaced(b *testing.B) {
	for _, rate := range []int{1000, 5000} {
		for _, c := range []struct {
			name        string
			alwaysDefer bool
		}{{"lightload", false}, {"deferonly", true}} {
			b.Run(c.name+"/"+strconv.Itoa(rate), func(b *testing.B) {
				r := runPaced(b, rate, max(b.N, 200), c.alwaysDefer)
				if r.lost != 0 {
					b.Fatalf("%d frames never polled", r.lost)
				}
				b.ReportMetric(r.irqs, "irq/frame")
				b.ReportMetric(r.polls, "polls/frame")
				b.ReportMetric(r.waits, "waits/frame")
				b.ReportMetric(r.threadUs, "thread-µs/frame")
				b.ReportMetric(r.procUs, "proc-µs/frame")
			})
		}
	}
}
