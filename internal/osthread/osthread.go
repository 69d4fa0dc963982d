// Package osthread starts goroutines on OS threads of their own that the
// process may reconfigure (affinity, scheduling class) and that die with the
// goroutine.
//
// A goroutine that calls runtime.LockOSThread and never unlocks takes its
// thread with it when it ends, which is how a pinned or real-time thread is
// given back, except on the process's main thread: the runtime cannot end
// that thread, so it parks it for good with whatever the goroutine set. A
// SCHED_DEADLINE reservation left on it stays allocated, and admission
// control refuses later ones; a test that waits for the thread to go waits
// forever. Any goroutine may run on the main thread once the main goroutine
// blocks, so Go keeps the main thread out of it.
package osthread

import (
	"runtime"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Go runs fn on a new goroutine locked to an OS thread other than the
// process's main thread. The lock is never released: when fn returns the
// runtime ends the thread, and every attribute set on it with it.
func Go(fn func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			fn()
			return
		}
		// On the main thread: hand fn to another goroutine. While this one
		// holds the main thread locked and waits, the other cannot be
		// scheduled there; once it has its own thread, this one unlocks and
		// ends, leaving the main thread as it found it.
		locked := make(chan struct{})
		Go(func() {
			close(locked)
			fn()
		})
		<-locked
		runtime.UnlockOSThread()
	}()
}
