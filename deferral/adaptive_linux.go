package deferral

import (
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// The adaptive executor's gro_flush_timeout wait, on its own locked thread.
//
// A Go timer (time.Sleep) parks the goroutine and leaves the wake-up to the
// runtime, which waits for timers in epoll_pwait with a timeout in whole
// milliseconds: a 50 µs sleep comes back after about a millisecond when
// nothing else runs (FACTS.md, measured under TCG), and every sleep hands the
// locked thread to the scheduler and back. clock_nanosleep on the thread
// itself lets the kernel's hrtimer do the waiting, as napi_watchdog's does
// for gro_flush_timeout. The thread's timer slack (50 µs by default for
// SCHED_OTHER, which a 50 µs wait would double) is set to 1 ns once, on the
// thread, by hrSleeper.setup.

// adaptiveClock is the executor's time: a monotonic clock and a wait on it.
// Tests replace it with a fake clock whose waits overshoot on purpose.
type adaptiveClock interface {
	// setup runs once on the executor's thread before its first run.
	setup()
	// now is monotonic time.
	now() time.Duration
	// sleep blocks the calling thread for at least d.
	sleep(d time.Duration)
}

// monoBase anchors now(): time.Since reads CLOCK_MONOTONIC through the vDSO.
var monoBase = time.Now()

// hrSleeper waits with clock_nanosleep(CLOCK_MONOTONIC) on the calling thread.
type hrSleeper struct{}

func (hrSleeper) setup() {
	// Per thread: only the executor's locked thread gets the fine slack.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
}

func (hrSleeper) now() time.Duration { return time.Since(monoBase) }

// sleep restarts after a signal (the Go runtime preempts with SIGURG) with
// the time that is left, so that it never returns early.
func (hrSleeper) sleep(d time.Duration) { hrSleep(d) }

// hrSleep sleeps d on the calling thread with clock_nanosleep, as a raw
// system call: the thread keeps its P (see rawClockNanosleep). It does not
// allocate.
func hrSleep(d time.Duration) {
	end := time.Since(monoBase) + d
	for d > 0 {
		ts := unix.NsecToTimespec(int64(d))
		if rawClockNanosleep(&ts) != unix.EINTR {
			return
		}
		d = end - time.Since(monoBase)
	}
}

// hrSleepSyscall is hrSleep through x/sys/unix's wrapper (entersyscall:
// sysmon may hand the thread's P to another thread while it sleeps). Kept
// for TestGuestAdaptiveSleep's comparison.
func hrSleepSyscall(d time.Duration) {
	end := time.Since(monoBase) + d
	for d > 0 {
		ts := unix.NsecToTimespec(int64(d))
		if err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, 0, &ts, nil); err != unix.EINTR {
			return
		}
		d = end - time.Since(monoBase)
	}
}

// goSleeper waits with a Go timer (time.Sleep). TestGuestAdaptiveSleep
// measures it beside hrSleeper in the lab: the measurement that chose hrSleeper.
type goSleeper struct{}

func (goSleeper) setup()                {}
func (goSleeper) now() time.Duration    { return time.Since(monoBase) }
func (goSleeper) sleep(d time.Duration) { time.Sleep(d) }
