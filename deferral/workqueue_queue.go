package deferral

import (
	"time"

	"github.com/uiodrv/uiodrv/rt"
)

// poolFor picks the pool of cpu (-1: the caller's CPU) for a new item.
func (wq *Workqueue) poolFor(cpu int) *wqPool {
	if len(wq.pools) == 1 {
		return wq.pools[0]
	}
	if cpu < 0 || cpu >= len(wq.pools) {
		cpu = rt.CurrentCPU()
		if cpu < 0 || cpu >= len(wq.pools) {
			cpu = 0
		}
	}
	return wq.pools[cpu]
}

// insertLocked is __queue_work after the PENDING bit was taken.
func (wq *Workqueue) insertLocked(w *Work, p *wqPool) {
	if wq.closed {
		w.pending.Store(false) // the kernel WARNs; drop it
		return
	}
	w.wq.Store(wq)
	wk := wq.executing[w]
	if wk != nil {
		p = wk.pool // non-reentrancy: to the pool (and worker) running it
	}
	w.pool = p
	w.color = wq.color
	wq.inflight[w.color]++
	w.queued++
	if p.nrActive >= wq.maxActive {
		w.active = false
		p.inactive.push(w)
		return
	}
	w.active = true
	p.nrActive++
	if wk != nil {
		wk.scheduled.push(w)
		return
	}
	p.worklist.push(w)
	p.kickLocked()
}

// QueueWork is queue_work: queue w on wq, on the caller's CPU for a bound
// queue. False if w was already pending. It does not allocate.
func QueueWork(wq *Workqueue, w *Work) bool { return QueueWorkOn(-1, wq, w) }

// QueueWorkOn is queue_work_on: as QueueWork, on the pool of cpu (bound queues).
func QueueWorkOn(cpu int, wq *Workqueue, w *Work) bool {
	if w.pending.Swap(true) {
		return false
	}
	wq.mu.Lock()
	wq.insertLocked(w, wq.poolFor(cpu))
	wq.mu.Unlock()
	return true
}

// unqueueLocked takes a queued item off its list (cancel).
func (wq *Workqueue) unqueueLocked(w *Work) {
	p := w.pool
	w.where.remove(w)
	w.pool = nil
	wq.inflight[w.color]--
	w.queued--
	if w.active {
		p.retireActiveLocked()
	}
	wq.doneCond.Broadcast()
}

// grabPending is try_to_grab_pending, looped: on return the caller owns
// PENDING and w is on no list and in no timer. It reports whether w was
// pending (queued or in its timer).
func (w *Work) grabPending() bool {
	for {
		if !w.pending.Swap(true) {
			return false
		}
		if wq := w.wq.Load(); wq != nil {
			wq.mu.Lock()
			if d := w.dwork; d != nil && d.inTimer {
				d.inTimer = false
				d.timer.Stop()
				wq.mu.Unlock()
				return true
			}
			if w.where != nil {
				wq.unqueueLocked(w)
				wq.mu.Unlock()
				return true
			}
			wq.mu.Unlock()
		}
		// Between another queuer's PENDING and its insert, or another
		// canceller owns it: the kernel spins too (-EAGAIN).
		time.Sleep(10 * time.Microsecond)
	}
}

// CancelWork is cancel_work: dequeue w if pending, without waiting for a
// running instance. It reports whether w was pending.
func CancelWork(w *Work) bool {
	was := w.grabPending()
	w.pending.Store(false)
	return was
}

// CancelWorkSync is cancel_work_sync: dequeue w and wait for a running
// instance to finish. While it waits it holds PENDING, so an item that queues
// itself again cannot: on return w is idle. It reports whether w was pending.
// It must not be called from w itself.
func CancelWorkSync(w *Work) bool {
	was := w.grabPending()
	if wq := w.wq.Load(); wq != nil {
		wq.mu.Lock()
		for wq.executing[w] != nil {
			wq.doneCond.Wait()
		}
		wq.mu.Unlock()
	}
	w.pending.Store(false)
	return was
}

// FlushWork is flush_work: wait until the last queued instance of w has
// finished (not later instances). It reports whether it waited.
func FlushWork(w *Work) bool {
	wq := w.wq.Load()
	if wq == nil {
		return false
	}
	wq.mu.Lock()
	defer wq.mu.Unlock()
	target := w.queued
	waited := false
	for w.done < min(target, w.queued) {
		waited = true
		wq.doneCond.Wait()
	}
	return waited
}

// FlushWorkqueue is flush_workqueue: wait for every item queued on wq before
// the call (not those queued during it, such as an item re-queueing itself;
// delayed items still in their timer are not waited for, as in the kernel).
func (wq *Workqueue) FlushWorkqueue() {
	wq.flushMu.Lock()
	defer wq.flushMu.Unlock()
	wq.mu.Lock()
	defer wq.mu.Unlock()
	old := wq.color
	wq.color ^= 1
	for wq.inflight[old] > 0 {
		wq.doneCond.Wait()
	}
}
