package deferral

import (
	"fmt"
	"sync"
)

// wqPool is a worker pool together with the workqueue's pool_workqueue on it:
// each Workqueue owns its pools (see Workqueue).
type wqPool struct {
	wq       *Workqueue
	cpu      int // -1: unbound
	worklist workList
	inactive workList // beyond max_active (pwq->inactive_works)
	nrActive int
	idle     int // workers waiting on cond
	woken    int // idle workers signalled but not yet running
	running  int // workers executing an item
	nworkers int
	nextID   int
	cond     *sync.Cond // on wq.mu
}

type worker struct {
	pool      *wqPool
	scheduled workList // collisions: items to run after the current one
}

// startWorkerLocked starts a worker for p; with wait it waits for the thread
// to be set up and returns its error (wq.mu is dropped meanwhile).
func (p *wqPool) startWorkerLocked(wait bool) error {
	wq := p.wq
	p.nworkers++
	p.nextID++
	name := fmt.Sprintf("kworker/u:%d", p.nextID)
	if p.cpu >= 0 {
		name = fmt.Sprintf("kworker/%d:%d", p.cpu, p.nextID)
	}
	nice := 0
	if wq.flags&WQHighPri != 0 {
		nice = -20
		name += "H"
	}
	wk := &worker{pool: p}
	wq.workers.Add(1)
	start := func() error {
		_, err := startThread(threadAttrs{name: name, cpu: p.cpu, nice: nice, sched: wq.sched}, wk.loop)
		if err != nil {
			wq.mu.Lock()
			p.nworkers--
			wq.mu.Unlock()
			wq.workers.Done()
		}
		return err
	}
	if !wait {
		go func() {
			if err := start(); err != nil {
				wq.spawnErr.Store(&err)
			}
		}()
		return nil
	}
	wq.mu.Unlock()
	err := start()
	wq.mu.Lock()
	return err
}

// kickLocked makes a worker of p run its worklist: wake an idle one, else
// start one (up to MaxWorkersPerPool).
func (p *wqPool) kickLocked() {
	if p.idle > p.woken {
		p.woken++
		p.cond.Signal()
		return
	}
	if p.nworkers < p.wq.maxWorkers {
		_ = p.startWorkerLocked(false)
	}
}

// loop is worker_thread.
func (wk *worker) loop() {
	p := wk.pool
	wq := p.wq
	defer wq.workers.Done()
	wq.mu.Lock()
	defer wq.mu.Unlock()
	for {
		w := wk.scheduled.pop()
		if w == nil {
			w = p.worklist.pop()
		}
		if w == nil {
			if wq.closed {
				p.nworkers--
				return
			}
			p.idle++
			p.cond.Wait()
			p.idle--
			if p.woken > 0 {
				p.woken--
			}
			continue
		}
		if other := wq.executing[w]; other != nil && other != wk {
			other.scheduled.push(w) // collision: run after the current instance, on that worker
			continue
		}
		wk.processLocked(w)
	}
}

// processLocked is process_one_work; called and returns with wq.mu held.
func (wk *worker) processLocked(w *Work) {
	p := wk.pool
	wq := p.wq
	wq.executing[w] = wk
	p.running++
	seq, color := w.queued, w.color
	w.pool = nil
	w.pending.Store(false) // set_work_pool_and_clear_pending: may be queued again from now
	wq.mu.Unlock()
	w.fn(w)
	wq.mu.Lock()
	p.running--
	delete(wq.executing, w)
	if seq > w.done {
		w.done = seq
	}
	wq.inflight[color]--
	p.retireActiveLocked()
	wq.doneCond.Broadcast()
}

// retireActiveLocked ends one active item of p and activates an inactive one
// (pwq_dec_nr_in_flight -> pwq_activate_first_inactive).
func (p *wqPool) retireActiveLocked() {
	p.nrActive--
	if w := p.inactive.head; w != nil && p.nrActive < p.wq.maxActive {
		p.inactive.pop()
		w.active = true
		p.nrActive++
		p.worklist.push(w)
		p.kickLocked()
	}
}
