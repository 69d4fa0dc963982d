package guestinit

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Under TCG a vCPU's local APIC timer now and then stops for good early in
// boot: the kernel boots on CPU 0, and nothing notices until a task sleeps
// on the dead CPU and never wakes (an RCU stall report on the console,
// "timer wakeup didn't happen ... Possible timer handling issue on cpu=N",
// then a test that hangs minutes later). checkTimers finds such a CPU before
// the guest says it is ready, so the host can boot again at once.

// timerWait bounds a pinned sleep of a few milliseconds: far above what a
// loaded TCG host delays a live timer, far below the host's boot timeout.
// A variable so that the test of a dead timer takes less.
var timerWait = 5 * time.Second

// pinnedSleep sleeps 1 ms three times on the calling thread's CPU (cpu c).
// A variable so that a test can kill a CPU's timer.
var pinnedSleep = func(c int) {
	ts := unix.NsecToTimespec(int64(time.Millisecond))
	for range 3 {
		_ = unix.ClockNanosleep(unix.CLOCK_MONOTONIC, 0, &ts, nil)
	}
}

// checkTimers sleeps briefly on each CPU of the init's affinity in turn and
// returns an error naming the first CPU whose sleep did not return. The
// watcher runs pinned to another CPU and measures with the clock alone,
// spinning, because any timer it armed might be queued on the dead CPU.
func checkTimers() error {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return fmt.Errorf("timer check: %w", err)
	}
	var cpus []int
	for c := 0; c < 1024; c++ {
		if all.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 {
		return nil // a dead timer on the only CPU never lets the boot get here
	}
	sleep, wait := pinnedSleep, timerWait
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer unix.SchedSetaffinity(0, &all)
	for i, c := range cpus {
		if err := pin(cpus[(i+1)%len(cpus)]); err != nil {
			return err
		}
		var woke atomic.Bool
		go sleepOn(c, sleep, &woke)
		deadline := time.Now().Add(wait)
		for !woke.Load() {
			if time.Now().After(deadline) {
				return fmt.Errorf("CPU %d: a 1 ms sleep pinned to it did not return within %v: its local timer is dead", c, wait)
			}
			runtime.Gosched()
		}
	}
	return nil
}

// sleepOn sleeps 1 ms three times on CPU c, on a thread of its own, and
// reports that it woke. A thread that never wakes is left behind: the
// host kills the guest.
func sleepOn(c int, sleep func(int), woke *atomic.Bool) {
	runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
	if pin(c) != nil {
		woke.Store(true) // not this check's to judge
		return
	}
	sleep(c)
	woke.Store(true)
}

func pin(c int) error {
	var s unix.CPUSet
	s.Set(c)
	if err := unix.SchedSetaffinity(0, &s); err != nil {
		return fmt.Errorf("timer check: pin to CPU %d: %w", c, err)
	}
	return nil
}
