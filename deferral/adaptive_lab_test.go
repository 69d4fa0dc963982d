package deferral

import (
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/qemu/labtest"
	"github.com/uiodrv/uiodrv/rt"
)

// TestGuestAdaptiveSleep measures, in the guest (TCG), what a 50 µs wait
// (gro_flush_timeout's default) really takes on a locked thread: a Go timer
// against clock_nanosleep, with the thread's default timer slack and with
// 1 ns (hrSleeper's). The adaptive executor waits with whichever of them
// ends on time; the test fails unless clock_nanosleep with the fine slack
// does, within half a millisecond (frames 1 ms apart at 1000 frames/s). It
// runs in cmd/uiodrv's TestLabRT boot, with deferral's other guest tests.
func TestGuestAdaptiveSleep(t *testing.T) {
	labtest.InGuest(t)
	const n, d = 2000, DefaultAdaptiveFlushTimeout
	type way struct {
		name  string
		slack int
		sleep func(time.Duration)
	}
	ways := []way{
		{"idle 100 ms (no waits)", 0, func(time.Duration) {}},
		{"time.Sleep", 0, time.Sleep},
		{"clock_nanosleep, default slack", 0, hrSleepSyscall},
		{"clock_nanosleep, slack 1 ns", 1, hrSleepSyscall},
		{"raw clock_nanosleep, slack 1 ns", 1, hrSleep},
		{"raw clock_nanosleep 100 µs, slack 1 ns", 1, func(time.Duration) { hrSleep(100 * time.Microsecond) }},
	}
	p50 := map[string]time.Duration{}
	done := make(chan struct{})
	go func() { // one locked thread, as the executor's
		defer close(done)
		runtime.LockOSThread()
		for _, w := range ways {
			if w.slack > 0 {
				_ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(w.slack), 0, 0, 0)
			}
			took := make([]time.Duration, n)
			var ru0, ru1 unix.Rusage
			_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
			cpu0 := rt.ThreadCPUTime()
			start := time.Now()
			if w.name[:4] == "idle" { // the process's own background cost
				time.Sleep(100 * time.Millisecond)
			}
			for i := range took {
				s := time.Now()
				w.sleep(d)
				took[i] = time.Since(s)
			}
			wall := time.Since(start)
			cpu := time.Duration(rt.ThreadCPUTime() - cpu0)
			_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
			proc := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			slices.Sort(took)
			q := func(f float64) time.Duration { return took[int(f*float64(n-1))] }
			p50[w.name] = q(0.5)
			t.Logf("GUEST SLEEP %v x %d, %s: p10 %v p50 %v p90 %v p99 %v max %v; wall %v; CPU per wait: thread %v, process %v; process CPU %.2f of one",
				d, n, w.name, q(0.1), q(0.5), q(0.9), q(0.99), took[n-1], wall.Round(time.Millisecond),
				cpu/n, proc/n, proc.Seconds()/wall.Seconds())
		}
	}()
	<-done
	if got := p50["raw clock_nanosleep, slack 1 ns"]; got > 500*time.Microsecond {
		t.Fatalf("clock_nanosleep(%v) takes %v (median) in the guest: too late for the deferral at 1000 frames/s", d, got)
	}
}
