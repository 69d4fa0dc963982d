package rt

import (
	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/internal/osthread"
)

// StartThread runs fn on a new goroutine locked to an OS thread of its own
// (never the process's main thread: osthread.Go) configured by a. It returns
// once the thread is set up: its TID, or the setup error (and then the thread
// is gone). When fn returns the runtime destroys the thread with its affinity
// and class. The thread counts in LockedThreads while fn runs.
func StartThread(a ThreadAttrs, fn func()) (tid int, err error) {
	type result struct {
		tid int
		err error
	}
	ch := make(chan result, 1)
	osthread.Go(func() {
		if err := ConfigureThread(a); err != nil {
			ch <- result{err: err}
			return
		}
		lockedThreads.Add(1) // counted while alive: SizeGOMAXPROCS
		defer lockedThreads.Add(-1)
		ch <- result{tid: unix.Gettid()}
		fn()
	})
	r := <-ch
	return r.tid, r.err
}
