package deferral

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// newIdleWQ is an unbound (one pool) workqueue whose idle workers time out
// after d.
func newIdleWQ(t *testing.T, d time.Duration) *Workqueue {
	wq := newWQ(t, WQUnbound, 0)
	wq.mu.Lock()
	wq.idleTimeout = d
	wq.mu.Unlock()
	return wq
}

// grow makes wq's pool run n items at once (so it has n workers) and
// returns the workers' TIDs once the items are done.
func grow(t *testing.T, wq *Workqueue, n int) []int {
	t.Helper()
	// From a pool whose workers are all idle, so that each item wakes or
	// starts one of its own.
	waitFor(t, "the pool's workers to be idle", func() bool {
		wq.mu.Lock()
		defer wq.mu.Unlock()
		p := wq.pools[0]
		return len(p.idle) == p.nworkers
	})
	g := newGate(t)
	tids := make(chan int, n)
	for i := 0; i < n; i++ {
		QueueWork(wq, NewWork(func(*Work) { tids <- gettid(); g.wait() }))
	}
	for i := 0; i < n; i++ {
		<-g.entered
	}
	if c := wq.WorkerCount(); c != n {
		t.Fatalf("%d items running at once on %d workers, want %d", n, c, n)
	}
	g.release()
	wq.FlushWorkqueue()
	out := make([]int, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, <-tids)
	}
	return out
}

// threadsAlive counts the threads of tids that still exist, the main
// thread apart: a locked goroutine that ends there leaves it parked, not
// ended (the runtime cannot end the main thread).
func threadsAlive(tids []int) int {
	n := 0
	for _, tid := range tids {
		if tid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); err == nil {
			n++
		}
	}
	return n
}

// TestWorkqueueRetiresIdleWorkers: workers idle for the idle timeout exit,
// threads and all, down to one per pool, and not before the timeout; the
// one left runs new work, and the pool grows again when it must.
func TestWorkqueueRetiresIdleWorkers(t *testing.T) {
	const timeout = 300 * time.Millisecond
	wq := newIdleWQ(t, timeout)
	began := time.Now()
	tids := grow(t, wq, 4)
	time.Sleep(timeout / 3)
	if c := wq.WorkerCount(); c != 4 && time.Since(began) < timeout {
		t.Errorf("%d workers %v after they went idle, want all 4 until the %v timeout", c, time.Since(began), timeout)
	}
	waitFor(t, "idle workers to be retired", func() bool { return wq.WorkerCount() == 1 })
	waitFor(t, fmt.Sprintf("their threads %v (pid %d) to exit", tids, os.Getpid()), func() bool { return threadsAlive(tids) <= 1 })
	time.Sleep(2 * timeout)
	if c := wq.WorkerCount(); c != 1 {
		t.Errorf("%d workers long after the timeout, want the pool's last one kept", c)
	}
	var runs atomic.Int64
	w := NewWork(func(*Work) { runs.Add(1) })
	QueueWork(wq, w)
	FlushWork(w)
	if runs.Load() != 1 {
		t.Errorf("the worker left ran %d items, want 1", runs.Load())
	}
	grow(t, wq, 3) // fatal unless the pool starts workers again
}

// TestWorkqueueRetiresUnderLightLoad: with one item at a time queued more
// often than the timeout, the spare workers still retire: the most recently
// idle worker is woken (as the kernel wakes the head of its idle list), so
// the others stay idle and time out instead of taking turns.
func TestWorkqueueRetiresUnderLightLoad(t *testing.T) {
	const timeout = 300 * time.Millisecond
	wq := newIdleWQ(t, timeout)
	grow(t, wq, 4)
	w := NewWork(func(*Work) {})
	began := time.Now()
	for time.Since(began) < 10*timeout && wq.WorkerCount() > 1 {
		QueueWork(wq, w)
		FlushWork(w)
		time.Sleep(timeout / 10)
	}
	if c := wq.WorkerCount(); c != 1 {
		t.Errorf("%d workers after %v of an item every %v, want 1", c, time.Since(began).Round(time.Millisecond), timeout/10)
	}
}
