package deferral

import (
	"fmt"
	"sync"
	"time"

	"github.com/uiodrv/uiodrv/rt"
)

// IdleWorkerTimeout is IDLE_WORKER_TIMEOUT: a pool's workers beyond its
// last idle one exit after this long idle (idle_worker_timeout).
const IdleWorkerTimeout = 5 * time.Minute

// wqPool is a worker pool together with the workqueue's pool_workqueue on it:
// each Workqueue owns its pools (see Workqueue).
type wqPool struct {
	wq       *Workqueue
	cpu      int // -1: unbound
	worklist workList
	inactive workList // beyond max_active (pwq->inactive_works)
	nrActive int
	// idle are the workers waiting for work, the most recently idle last
	// (pool->idle_list, whose head the kernel wakes first): a worker is
	// woken from the end, so the ones at the front stay idle long enough
	// to time out while a few others do the work. Its capacity is the
	// pool's worker cap, so that queueing never allocates.
	idle       []*worker
	idleTimer  *time.Timer // idle_timer: retires workers idle too long
	timerArmed bool
	running    int // workers executing an item
	nworkers   int // started and not yet exited
	nextID     int
}

type worker struct {
	pool      *wqPool
	scheduled workList   // collisions: items to run after the current one
	cond      *sync.Cond // on wq.mu: signalled to leave idle
	idle      bool       // on pool.idle
	retired   bool       // told to exit (destroy_worker)
	lastIdle  time.Time  // when it last became idle (last_active)
}

func newPool(wq *Workqueue, cpu int) *wqPool {
	p := &wqPool{wq: wq, cpu: cpu, idle: make([]*worker, 0, wq.maxWorkers)}
	p.idleTimer = time.AfterFunc(time.Hour, p.idleWorkerTimeout)
	p.idleTimer.Stop()
	return p
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
	wk := &worker{pool: p, cond: sync.NewCond(&wq.mu)}
	wq.workers.Add(1)
	start := func() error {
		_, err := rt.StartThread(rt.ThreadAttrs{Name: name, CPU: p.cpu, Sched: threadClass(wq.sched, 0, nice)}, wk.loop)
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

// kickLocked makes a worker of p run its worklist: wake the most recently
// idle one, else start one (up to the pool's cap).
func (p *wqPool) kickLocked() {
	if n := len(p.idle); n > 0 {
		wk := p.idle[n-1]
		p.idle = p.idle[:n-1]
		wk.idle = false
		wk.cond.Signal()
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
			p.enterIdleLocked(wk)
			for wk.idle {
				wk.cond.Wait()
			}
			if wk.retired {
				p.nworkers-- // the thread exits with the goroutine (rt.StartThread)
				return
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

// enterIdleLocked is worker_enter_idle: wk waits on p's idle list, and the
// idle timer is armed if the pool has more idle workers than it keeps.
func (p *wqPool) enterIdleLocked(wk *worker) {
	wk.idle = true
	wk.lastIdle = time.Now()
	p.idle = append(p.idle, wk)
	if p.tooManyIdleLocked() && !p.timerArmed {
		p.timerArmed = true
		p.idleTimer.Reset(p.wq.idleTimeout)
	}
}

// tooManyIdleLocked is too_many_workers, simplified: a pool keeps one idle
// worker (so it always has at least one), where the kernel keeps two and a
// share of its busy ones' number.
func (p *wqPool) tooManyIdleLocked() bool { return len(p.idle) > 1 }

// idleWorkerTimeout is idle_worker_timeout: retire the longest-idle workers
// that have been idle for the workqueue's idle timeout, while there are too
// many, and re-arm the timer for the next one.
func (p *wqPool) idleWorkerTimeout() {
	wq := p.wq
	wq.mu.Lock()
	defer wq.mu.Unlock()
	p.timerArmed = false
	if wq.closed {
		return
	}
	now := time.Now()
	for p.tooManyIdleLocked() {
		wk := p.idle[0]
		if left := wk.lastIdle.Add(wq.idleTimeout).Sub(now); left > 0 {
			p.timerArmed = true
			p.idleTimer.Reset(left)
			return
		}
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		wk.idle, wk.retired = false, true
		wk.cond.Signal()
	}
}

// wakeAllLocked wakes every idle worker of p and stops its idle timer
// (destroy_workqueue, or a failed start): each sees wq.closed and exits.
func (p *wqPool) wakeAllLocked() {
	p.idleTimer.Stop()
	p.timerArmed = false
	for i, wk := range p.idle {
		wk.idle = false
		wk.cond.Signal()
		p.idle[i] = nil
	}
	p.idle = p.idle[:0]
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
