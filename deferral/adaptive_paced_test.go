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
// its interrupt (an eventfd when armed, as a latched cause raises on
// re-arm); the top half, on the executor's CPU, calls Schedule. It measures
// what each frame costs: interrupts, polls, the deferral's timer wake-ups,
// inline runs, and the CPU time of the executor's thread and of the top
// half's, beside two baselines in the same run: the deferral alone
// (alwaysDefer: the behaviour before the light-load state) and the
// light-load re-arm without inline runs (noInline).

// pacedWire is the NIC side of the paced run.
type pacedWire struct {
	fd       int // the interrupt's eventfd
	pending  atomic.Int64
	consumed atomic.Int64
	armed    atomic.Bool
	irqs     atomic.Uint64
}

// poll takes what has arrived, up to budget. Only poll lowers pending, so
// what it read is still there when it subtracts.
func (w *pacedWire) poll(budget int) int {
	n := min(w.pending.Load(), int64(budget))
	w.pending.Add(-n)
	w.consumed.Add(n)
	return int(n)
}

// interrupt raises the interrupt if it is armed, and disarms it (the top
// half masks the cause).
func (w *pacedWire) interrupt() {
	if w.armed.CompareAndSwap(true, false) {
		w.irqs.Add(1)
		eventfdSignal(w.fd)
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
	irqs, polls, waits, quick, inline float64
	threadUs, topUs, procUs           float64
	lost                              int64
}

// pacedVariant is the executor under test or a baseline.
type pacedVariant struct {
	name                  string
	alwaysDefer, noInline bool
}

var pacedVariants = []pacedVariant{{"lightload", false, false}, {"noinline", false, true}, {"deferonly", true, false}}

// runPaced sends frames at rate through a fresh adaptive executor, its
// interrupt on the executor's CPU, and returns its cost per frame.
func runPaced(tb testing.TB, rate, frames int, v pacedVariant) pacedRun {
	w := &pacedWire{fd: newEvent(tb)}
	w.armed.Store(true)
	c := newCPU(tb, lastCore())
	e, err := newAdaptiveExecClock(ExecutorOptions{Mode: ModeAdaptive, CPU: c, Poll: w.poll,
		Weight: NAPIPollWeight, Name: "paced"}, w.reenable, hrSleeper{})
	if err != nil {
		tb.Fatal(err)
	}
	defer e.Close()
	// Before the first Schedule: the eventfd and the wake order them.
	e.alwaysDefer, e.noInline = v.alwaysDefer, v.noInline
	a, err := c.RequestIRQ(IRQ{Fd: w.fd}, func() IRQReturn { e.Schedule(); return IRQHandled }, "paced")
	if err != nil {
		tb.Fatal(err)
	}
	defer a.Free()
	cpu0, top0, proc0 := threadCPU(tb, e.t.tid), threadCPU(tb, c.TID()), processCPU(tb)
	w.pace(frames, time.Second/time.Duration(rate))
	for end := time.Now().Add(time.Second); w.consumed.Load() < int64(frames) && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(2 * e.window) // the last run re-arms
	st, n := e.Stats(), float64(frames)
	return pacedRun{irqs: float64(w.irqs.Load()) / n, polls: float64(st.Polls) / n, waits: float64(st.Waits) / n,
		quick: float64(st.QuickRearms) / n, inline: float64(st.InlineRuns) / n,
		threadUs: float64(threadCPU(tb, e.t.tid)-cpu0) / 1e3 / n, topUs: float64(threadCPU(tb, c.TID())-top0) / 1e3 / n,
		procUs: float64(processCPU(tb)-proc0) / 1e3 / n, lost: int64(frames) - w.consumed.Load()}
}

// TestAdaptivePacedLightLoad: at 1000 and 5000 frames/s on the real clock,
// every frame is carried at about one interrupt each, with at most 2.2 polls
// per frame, under a quarter of the deferral's waits (the deferral alone,
// alongside, costs 4 polls and 2 waits per frame) and at least half of the
// runs inline. On an idle machine nearly every run is inline with no wait;
// on a busy one the pacer and the top half run late, frames bunch, and the
// bunched ones count, rightly, as gaps the deferral bridges: the bounds
// leave room for that.
func TestAdaptivePacedLightLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, rate := range []int{1000, 5000} {
		frames := rate / 2 // half a second
		got, base := runPaced(t, rate, frames, pacedVariants[0]), runPaced(t, rate, frames, pacedVariants[2])
		t.Logf("%d/s: light-load %+v; deferral alone %+v", rate, got, base)
		if got.lost != 0 || base.lost != 0 {
			t.Fatalf("%d/s: %d and %d frames never polled", rate, got.lost, base.lost)
		}
		if got.polls > 2.2 || got.waits > base.waits/4 || got.inline < 0.5*got.irqs {
			t.Errorf("%d/s: %.2f polls, %.3f waits (deferral alone: %.3f) and %.3f inline runs per frame, %.3f interrupts; want at most 2.2 polls, a quarter of the waits, half the interrupts inline",
				rate, got.polls, got.waits, base.waits, got.inline, got.irqs)
		}
	}
}

// BenchmarkAdaptivePaced: one op is one frame at the rate. Read polls/frame,
// waits/frame and the threads' CPU per frame against the baselines of the
// same run (pacedVariants).
func BenchmarkAdaptivePaced(b *testing.B) {
	for _, rate := range []int{1000, 5000} {
		for _, v := range pacedVariants {
			b.Run(v.name+"/"+strconv.Itoa(rate), func(b *testing.B) {
				r := runPaced(b, rate, max(b.N, 200), v)
				if r.lost != 0 {
					b.Fatalf("%d frames never polled", r.lost)
				}
				b.ReportMetric(r.irqs, "irq/frame")
				b.ReportMetric(r.polls, "polls/frame")
				b.ReportMetric(r.waits, "waits/frame")
				b.ReportMetric(r.inline, "inline/frame")
				b.ReportMetric(r.threadUs+r.topUs, "threads-µs/frame")
				b.ReportMetric(r.procUs, "proc-µs/frame")
			})
		}
	}
}
