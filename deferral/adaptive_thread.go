package deferral

import (
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// evThread is the adaptive executor's thread: a locked OS thread that
// sleeps in a raw ppoll on an eventfd until woken, then runs fn.
// Wakes while fn runs merge into one more run (as irqThread's RUNTHREAD).
//
// Why not irqThread (a Go channel): a goroutine locked to its thread that
// blocks on a channel hands its P to another thread, and its wake-up goes
// through the Go scheduler (wakep, then startlockedm hands a P to the locked
// thread): three thread switches where the kernel needs one. Under TCG each
// costs tens of µs of guest CPU, paid once per interrupt and so once per
// frame at low rates, where adaptive mode must cost what NAPI costs. Here
// the top half's eventfd write wakes this thread directly, and the raw wait
// keeps the goroutine running with its P (the package's rule for its
// threads: doc.go, "Real-time threads and the Go runtime's system calls";
// sysmon's preemption every 10 ms ends the wait with EINTR, and the loop
// yields to the scheduler before it waits again). The wait is ppoll, not a
// blocking read: the kernel restarts a read after the runtime's signal
// handler (SA_RESTART), so the runtime could never stop this goroutine.
type evThread struct {
	fd      int // non-blocking eventfd: the wake-up
	fn      func()
	tid     int
	runFlag atomic.Bool // a run is wanted (IRQTF_RUNTHREAD)
	stop    atomic.Bool
	done    chan struct{}
	once    sync.Once
}

func newEvThread(a threadAttrs, fn func()) (*evThread, error) {
	fd, err := newEventfd()
	if err != nil {
		return nil, err
	}
	t := &evThread{fd: fd, fn: fn, done: make(chan struct{})}
	addProcs(1) // the raw read holds a P for the thread's life (procs.go)
	if t.tid, err = startThread(a, t.loop); err != nil {
		addProcs(-1)
		unix.Close(fd)
		return nil, err
	}
	return t, nil
}

// wake asks for a run; only the call that sets the flag writes the eventfd.
// It does not allocate.
func (t *evThread) wake() {
	if !t.runFlag.Swap(true) {
		eventfdSignal(t.fd)
	}
}

func (t *evThread) loop() {
	defer close(t.done)
	var b [8]byte
	for !t.stop.Load() {
		if t.runFlag.Swap(false) {
			t.fn()
			continue
		}
		// A wake between the Swap and this wait left the counter non-zero:
		// the wait returns at once.
		errno := rawPollIn(t.fd)
		_, _ = rawRead8(t.fd, &b) // consume (EAGAIN if nothing came)
		if errno == unix.EINTR {
			// Most likely the runtime wants this goroutine's P (sysmon's
			// preemption, a stop-the-world for GC or GOMAXPROCS): the
			// signal lands inside the system call, where it cannot preempt,
			// and this loop has no preemption point of its own, so without
			// this yield a stop-the-world would wait for good.
			runtime.Gosched()
		}
	}
}

// stopAndWait lets a running fn finish, ends the thread and closes the
// eventfd. Idempotent.
func (t *evThread) stopAndWait() {
	t.once.Do(func() {
		t.stop.Store(true)
		eventfdSignal(t.fd)
		<-t.done
		addProcs(-1)
		unix.Close(t.fd)
	})
}
