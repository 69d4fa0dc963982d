package deferral

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/rt"
)

func newWQ(t testing.TB, flags WQFlags, maxActive int) *Workqueue {
	t.Helper()
	wq, err := NewWorkqueue("t-"+t.Name(), flags, maxActive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wq.Close() })
	return wq
}

func TestWorkQueuePendingReturnsFalse(t *testing.T) {
	wq, err := NewOrderedWorkqueue("ordered", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer wq.Close()
	g := newGate(t)
	blocker := NewWork(func(*Work) { g.wait() })
	var runs atomic.Int64
	w := NewWork(func(*Work) { runs.Add(1) })
	QueueWork(wq, blocker)
	<-g.entered
	if !QueueWork(wq, w) {
		t.Fatal("first queue returned false")
	}
	for i := 0; i < 3; i++ {
		if QueueWork(wq, w) {
			t.Fatal("queueing a pending item returned true")
		}
	}
	if !w.Pending() {
		t.Error("not pending")
	}
	g.release()
	FlushWork(w)
	settle()
	if runs.Load() != 1 || w.Pending() {
		t.Errorf("runs %d pending %v, want 1 false", runs.Load(), w.Pending())
	}
}

func TestWorkNonReentrant(t *testing.T) {
	wq := newWQ(t, 0, 0) // bound, per-CPU pools
	var inflight, maxIn, runs atomic.Int64
	var cpus sync.Map
	w := NewWork(func(*Work) {
		if n := inflight.Add(1); n > maxIn.Load() {
			maxIn.Store(n)
		}
		cpus.Store(rt.CurrentCPU(), true)
		time.Sleep(50 * time.Microsecond)
		inflight.Add(-1)
		runs.Add(1)
	})
	var wg sync.WaitGroup
	for cpu := 0; cpu < rt.NumCPU(); cpu++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				QueueWorkOn(cpu, wq, w)
				time.Sleep(20 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	wq.FlushWorkqueue()
	if maxIn.Load() != 1 {
		t.Errorf("max concurrent runs %d, want 1", maxIn.Load())
	}
	if runs.Load() < 2 {
		t.Errorf("runs %d", runs.Load())
	}
}

func TestWorkBoundRunsOnCPUAndHighPri(t *testing.T) {
	for _, flags := range []WQFlags{0, WQHighPri} {
		wq := newWQ(t, flags, 0)
		for cpu := 0; cpu < rt.NumCPU(); cpu++ {
			var got, nice atomic.Int64
			got.Store(-1)
			w := NewWork(func(*Work) {
				got.Store(int64(rt.CurrentCPU()))
				_, _, n, _ := rt.ThreadSched(gettid())
				nice.Store(int64(n))
			})
			QueueWorkOn(cpu, wq, w)
			FlushWork(w)
			if int(got.Load()) != cpu {
				t.Errorf("flags %d: queued on cpu %d, ran on %d", flags, cpu, got.Load())
			}
			want := int64(0)
			if flags&WQHighPri != 0 {
				want = -20
			}
			if nice.Load() != want {
				t.Errorf("flags %d: worker nice %d, want %d", flags, nice.Load(), want)
			}
		}
	}
}

func TestWorkUnboundRunsAnywhere(t *testing.T) {
	wq := newWQ(t, WQUnbound, 0)
	var count atomic.Int64
	w := NewWork(func(*Work) {
		var set unix.CPUSet
		unix.SchedGetaffinity(0, &set)
		count.Store(int64(set.Count()))
	})
	QueueWork(wq, w)
	FlushWork(w)
	if int(count.Load()) != rt.NumCPU() {
		t.Errorf("unbound worker may run on %d cores, want %d", count.Load(), rt.NumCPU())
	}
}

func TestWorkMaxActive(t *testing.T) {
	for _, maxActive := range []int{1, 2, 3} {
		wq := newWQ(t, WQUnbound, maxActive)
		var inflight, maxIn atomic.Int64
		for i := 0; i < 8; i++ {
			w := NewWork(func(*Work) {
				n := inflight.Add(1)
				for m := maxIn.Load(); n > m && !maxIn.CompareAndSwap(m, n); m = maxIn.Load() {
				}
				time.Sleep(3 * time.Millisecond) // work may sleep
				inflight.Add(-1)
			})
			QueueWork(wq, w)
		}
		wq.FlushWorkqueue()
		if maxIn.Load() != int64(maxActive) {
			t.Errorf("max_active %d: %d ran at once", maxActive, maxIn.Load())
		}
	}
}

func TestWorkOrderedFIFO(t *testing.T) {
	wq, err := NewOrderedWorkqueue("ordered", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer wq.Close()
	var log logger
	var inflight, maxIn atomic.Int64
	var want []string
	for i := 0; i < 50; i++ {
		want = append(want, fmt.Sprint(i))
		QueueWork(wq, NewWork(func(*Work) {
			if n := inflight.Add(1); n > maxIn.Load() {
				maxIn.Store(n)
			}
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
			log.add(fmt.Sprint(i))
			inflight.Add(-1)
		}))
	}
	wq.FlushWorkqueue()
	if got := log.get(); !slices.Equal(got, want) {
		t.Errorf("order %v", got)
	}
	if maxIn.Load() != 1 {
		t.Errorf("%d ran at once, want 1", maxIn.Load())
	}
}

func TestDelayedWork(t *testing.T) {
	wq := newWQ(t, 0, 0)
	var runs atomic.Int64
	d := NewDelayedWork(func(*Work) { runs.Add(1) })
	if !QueueDelayedWork(wq, d, time.Hour) {
		t.Fatal("queue returned false")
	}
	if QueueDelayedWork(wq, d, time.Millisecond) {
		t.Fatal("queueing a pending delayed item returned true")
	}
	settle()
	if runs.Load() != 0 {
		t.Fatal("ran before its delay")
	}
	if !ModDelayedWork(wq, d, time.Millisecond) {
		t.Error("mod of a pending item returned false")
	}
	waitFor(t, "run after mod", func() bool { return runs.Load() == 1 })
	FlushWork(&d.Work)

	// Cancel before expiry.
	QueueDelayedWork(wq, d, time.Hour)
	if !CancelDelayedWork(d) {
		t.Error("cancel of an armed item returned false")
	}
	if d.Pending() {
		t.Error("pending after cancel")
	}
	if CancelDelayedWork(d) {
		t.Error("cancel of an idle item returned true")
	}
	// Mod of an idle item queues it.
	if ModDelayedWork(wq, d, 0) {
		t.Error("mod of an idle item returned true")
	}
	waitFor(t, "run after mod", func() bool { return runs.Load() == 2 })
	// Flush of an armed item runs it now.
	QueueDelayedWork(wq, d, time.Hour)
	FlushDelayedWork(d)
	if runs.Load() != 3 {
		t.Errorf("runs %d after FlushDelayedWork, want 3", runs.Load())
	}
	settle()
	if runs.Load() != 3 {
		t.Errorf("runs %d, want 3", runs.Load())
	}
}

func TestFlushWorkWaits(t *testing.T) {
	wq := newWQ(t, WQUnbound, 0)
	var done atomic.Bool
	w := NewWork(func(*Work) { time.Sleep(20 * time.Millisecond); done.Store(true) })
	if FlushWork(w) {
		t.Error("flush of a never-queued item waited")
	}
	QueueWork(wq, w)
	if !FlushWork(w) {
		t.Error("flush did not wait")
	}
	if !done.Load() {
		t.Error("FlushWork returned before the item finished")
	}
}

func TestFlushWorkqueueWaitsForAll(t *testing.T) {
	wq := newWQ(t, 0, 0)
	var done atomic.Int64
	for i := 0; i < 10; i++ {
		QueueWorkOn(i%rt.NumCPU(), wq, NewWork(func(*Work) { time.Sleep(5 * time.Millisecond); done.Add(1) }))
	}
	wq.FlushWorkqueue()
	if done.Load() != 10 {
		t.Errorf("FlushWorkqueue returned after %d of 10", done.Load())
	}
}

// A self-requeueing item does not block FlushWorkqueue (only earlier
// instances are waited for) and is stopped by CancelWorkSync.
func TestCancelWorkSyncSelfRequeue(t *testing.T) {
	wq := newWQ(t, 0, 0)
	var runs, inflight atomic.Int64
	var w *Work
	w = NewWork(func(*Work) {
		inflight.Add(1)
		runs.Add(1)
		time.Sleep(100 * time.Microsecond)
		QueueWork(wq, w)
		inflight.Add(-1)
	})
	QueueWork(wq, w)
	waitFor(t, "some runs", func() bool { return runs.Load() > 20 })
	wq.FlushWorkqueue()
	CancelWorkSync(w)
	if inflight.Load() != 0 {
		t.Error("CancelWorkSync returned while the item ran")
	}
	n := runs.Load()
	settle()
	if runs.Load() != n || w.Pending() {
		t.Errorf("item ran %d more times after CancelWorkSync (pending %v)", runs.Load()-n, w.Pending())
	}
	// It can be used again.
	QueueWork(wq, NewWork(func(*Work) {}))
	w.Init(func(*Work) { runs.Add(1) })
	QueueWork(wq, w)
	FlushWork(w)
	if runs.Load() != n+1 {
		t.Errorf("runs %d after reuse, want %d", runs.Load(), n+1)
	}
}

func TestCancelWorkSyncWaitsForRunning(t *testing.T) {
	wq := newWQ(t, WQUnbound, 0)
	g := newGate(t)
	var finished atomic.Bool
	w := NewWork(func(*Work) { g.wait(); finished.Store(true) })
	QueueWork(wq, w)
	<-g.entered
	ret := make(chan bool)
	go func() { ret <- CancelWorkSync(w) }()
	select {
	case <-ret:
		t.Fatal("CancelWorkSync returned while the item ran")
	case <-time.After(20 * time.Millisecond):
	}
	g.release()
	if was := <-ret; was {
		t.Error("returned pending=true for an item that was only running")
	}
	if !finished.Load() {
		t.Error("returned before the item finished")
	}
}

func TestWorkqueueCloseStopsWorkers(t *testing.T) {
	wq, err := NewWorkqueue("close", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	var tids tidSet
	for i := 0; i < 20; i++ {
		QueueWork(wq, NewWork(func(*Work) { tids.add(); time.Sleep(time.Millisecond); runs.Add(1) }))
	}
	wq.Close()
	wq.Close()
	if runs.Load() != 20 {
		t.Errorf("Close returned after %d of 20 items", runs.Load())
	}
	if n := wq.WorkerCount(); n != 0 {
		t.Errorf("%d workers after Close", n)
	}
	tids.waitGone(t)
	late := NewWork(func(*Work) { runs.Add(1) })
	QueueWork(wq, late)
	settle()
	if runs.Load() != 20 || late.Pending() {
		t.Error("an item queued after Close ran or stayed pending")
	}
}
