package deferral

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// WQFlags are workqueue flags (WQ_*).
type WQFlags uint

const (
	// WQUnbound is WQ_UNBOUND: workers are not bound to a CPU.
	WQUnbound WQFlags = 1 << iota
	// WQHighPri is WQ_HIGHPRI: workers run at nice -20 (the kernel's highpri pools).
	WQHighPri
	wqOrdered
)

const (
	// WQDefaultActive is WQ_DFL_ACTIVE, the max_active used when 0 is given.
	WQDefaultActive = 1024
	// MaxWorkersPerPool caps the workers of one pool. The kernel has no such
	// cap: it starts a worker when the running one sleeps, which it learns from
	// the scheduler (wq_worker_sleeping). Go cannot see a thread sleep, so here
	// a worker is started whenever work is queued and no worker is idle, up to
	// this many.
	MaxWorkersPerPool = 16
)

// Work is a struct work_struct. Guarantees, from kernel/workqueue.c:
//   - Queueing a pending item does nothing and returns false (the PENDING bit).
//   - Non-reentrant: an item is never run by two workers of its workqueue at
//     once; queued while running, it runs again after, on the worker running
//     it (__queue_work's last_pool lookup, process_one_work's collision check).
//   - PENDING is cleared just before the function runs, so the function (or
//     anyone) may queue it again, and a queue during the run gives one more run.
//   - The function runs in process context and may sleep.
//
// A Work item belongs to one workqueue at a time.
type Work struct {
	fn      func(*Work)
	pending atomic.Bool               // WORK_STRUCT_PENDING
	wq      atomic.Pointer[Workqueue] // last workqueue queued on
	dwork   *DelayedWork

	// Guarded by wq.mu:
	where  *workList // the list it is on, nil if none
	next   *Work
	active bool    // counted in its pool's nrActive while on a list
	pool   *wqPool // pool of the list it is on
	color  int     // flush color of the pending instance
	queued uint64  // instances queued (minus those cancelled): flush_work target
	done   uint64  // highest instance finished
}

// NewWork is DECLARE_WORK / INIT_WORK: a work item that runs fn.
func NewWork(fn func(*Work)) *Work {
	w := &Work{}
	w.Init(fn)
	return w
}

// Init is INIT_WORK for a Work embedded in another struct. It must not be
// called on a pending or running item.
func (w *Work) Init(fn func(*Work)) { w.fn = fn }

// Pending is work_pending.
func (w *Work) Pending() bool { return w.pending.Load() }

type workList struct{ head, tail *Work }

func (l *workList) push(w *Work) {
	w.next = nil
	w.where = l
	if l.tail == nil {
		l.head = w
	} else {
		l.tail.next = w
	}
	l.tail = w
}

func (l *workList) pop() *Work {
	w := l.head
	if w == nil {
		return nil
	}
	l.head = w.next
	if l.head == nil {
		l.tail = nil
	}
	w.next, w.where = nil, nil
	return w
}

func (l *workList) remove(w *Work) {
	var prev *Work
	for x := l.head; x != nil; prev, x = x, x.next {
		if x != w {
			continue
		}
		if prev == nil {
			l.head = x.next
		} else {
			prev.next = x.next
		}
		if l.tail == x {
			l.tail = prev
		}
		x.next, x.where = nil, nil
		return
	}
}

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

// Workqueue is a struct workqueue_struct with its workers. Bound queues have
// a pool per CPU and run an item on the CPU it was queued from (or the one
// given to QueueWorkOn); unbound ones have one pool whose workers may run
// anywhere. max_active bounds the items running at once per pool.
//
// Unlike the kernel, whose workqueues share per-CPU worker pools, each
// Workqueue here owns its workers: sharing pays only with the scheduler hook
// that tells concurrency management a worker slept, which Go lacks.
type Workqueue struct {
	name      string
	flags     WQFlags
	maxActive int

	mu        sync.Mutex
	pools     []*wqPool
	executing map[*Work]*worker // busy_hash
	color     int               // flush color of new items
	inflight  [2]int            // items per color, queued or running
	doneCond  *sync.Cond        // on mu: an item finished or was cancelled
	closed    bool
	flushMu   sync.Mutex // one FlushWorkqueue at a time (the kernel queues flushers)
	workers   sync.WaitGroup
	closeOnce sync.Once
	spawnErr  atomic.Pointer[error]
	// sched is the workers' class (NewWorkqueueSched); maxWorkers caps a
	// pool's workers (MaxWorkersPerPool unless set there).
	sched      Sched
	maxWorkers int
}

// NewWorkqueue is alloc_workqueue(name, flags, maxActive); maxActive 0 means
// WQDefaultActive. It starts one worker per pool so that a permission error
// (WQHighPri needs CAP_SYS_NICE) shows here.
func NewWorkqueue(name string, flags WQFlags, maxActive int) (*Workqueue, error) {
	return newWorkqueue(name, flags, maxActive, Sched{}, MaxWorkersPerPool)
}

func newWorkqueue(name string, flags WQFlags, maxActive int, sched Sched, maxWorkers int) (*Workqueue, error) {
	if maxActive < 0 {
		return nil, fmt.Errorf("deferral: workqueue %q: max_active %d < 0", name, maxActive)
	}
	if maxActive == 0 {
		maxActive = WQDefaultActive
	}
	wq := &Workqueue{name: name, flags: flags, maxActive: maxActive, executing: map[*Work]*worker{},
		sched: sched, maxWorkers: maxWorkers}
	wq.doneCond = sync.NewCond(&wq.mu)
	cpus := []int{-1}
	if flags&WQUnbound == 0 {
		cpus = cpus[:0]
		for i := 0; i < numCPU(); i++ {
			cpus = append(cpus, i)
		}
	}
	for _, cpu := range cpus {
		p := &wqPool{wq: wq, cpu: cpu}
		p.cond = sync.NewCond(&wq.mu)
		wq.pools = append(wq.pools, p)
	}
	wq.mu.Lock()
	defer wq.mu.Unlock()
	for _, p := range wq.pools {
		if err := p.startWorkerLocked(true); err != nil {
			wq.closed = true
			for _, p := range wq.pools {
				p.cond.Broadcast()
			}
			wq.mu.Unlock()
			wq.workers.Wait()
			wq.mu.Lock()
			return nil, fmt.Errorf("workqueue %q: %w", name, err)
		}
	}
	return wq, nil
}

// NewOrderedWorkqueue is alloc_ordered_workqueue: unbound, max_active 1; items
// run one at a time in queueing order.
func NewOrderedWorkqueue(name string, flags WQFlags) (*Workqueue, error) {
	return NewWorkqueue(name, flags|WQUnbound|wqOrdered, 1)
}

// Name is the workqueue's name.
func (wq *Workqueue) Name() string { return wq.name }

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

// poolFor picks the pool of cpu (-1: the caller's CPU) for a new item.
func (wq *Workqueue) poolFor(cpu int) *wqPool {
	if len(wq.pools) == 1 {
		return wq.pools[0]
	}
	if cpu < 0 || cpu >= len(wq.pools) {
		cpu = CurrentCPU()
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

// Close is destroy_workqueue: it drains wq (waits for queued and running
// items, re-queued ones included), then stops its workers and waits for their
// threads to exit. Queueing on a closed workqueue is dropped. Idempotent.
func (wq *Workqueue) Close() error {
	wq.closeOnce.Do(func() {
		wq.mu.Lock()
		for wq.inflight[0]+wq.inflight[1] > 0 {
			wq.doneCond.Wait()
		}
		wq.closed = true
		for _, p := range wq.pools {
			p.cond.Broadcast()
		}
		wq.mu.Unlock()
		wq.workers.Wait()
	})
	return nil
}

// WorkerCount is the number of workers wq has started and not yet stopped.
func (wq *Workqueue) WorkerCount() int {
	wq.mu.Lock()
	defer wq.mu.Unlock()
	n := 0
	for _, p := range wq.pools {
		n += p.nworkers
	}
	return n
}

// DelayedWork is struct delayed_work: a Work queued when its timer expires.
// The timer is a Go timer; its expiry is late by the Go scheduler's latency.
type DelayedWork struct {
	Work
	timer   *time.Timer
	inTimer bool // guarded by wq.mu
	due     time.Time
	cpu     int
}

// NewDelayedWork is INIT_DELAYED_WORK.
func NewDelayedWork(fn func(*Work)) *DelayedWork {
	d := &DelayedWork{}
	d.Work.Init(fn)
	d.dwork = d
	d.timer = time.AfterFunc(time.Hour, d.timerFn)
	d.timer.Stop()
	return d
}

// delayed_work_timer_fn
func (d *DelayedWork) timerFn() {
	wq := d.wq.Load()
	if wq == nil {
		return
	}
	wq.mu.Lock()
	defer wq.mu.Unlock()
	if !d.inTimer || time.Now().Before(d.due) { // cancelled, or a stale expiry of an earlier arm
		return
	}
	d.inTimer = false
	wq.insertLocked(&d.Work, wq.poolFor(d.cpu))
}

// armLocked is __queue_delayed_work; the caller owns PENDING.
func (wq *Workqueue) queueDelayed(cpu int, d *DelayedWork, delay time.Duration) {
	wq.mu.Lock()
	defer wq.mu.Unlock()
	if delay <= 0 {
		wq.insertLocked(&d.Work, wq.poolFor(cpu))
		return
	}
	if cpu < 0 {
		cpu = CurrentCPU()
	}
	d.wq.Store(wq)
	d.cpu = cpu
	d.inTimer = true
	d.due = time.Now().Add(delay)
	d.timer.Reset(delay)
}

// QueueDelayedWork is queue_delayed_work: queue d on wq after delay. False if
// d was already pending (in its timer or queued).
func QueueDelayedWork(wq *Workqueue, d *DelayedWork, delay time.Duration) bool {
	if d.pending.Swap(true) {
		return false
	}
	wq.queueDelayed(-1, d, delay)
	return true
}

// ModDelayedWork is mod_delayed_work: (re)arm d to run after delay from now,
// whether or not it was pending. It reports whether it was pending.
func ModDelayedWork(wq *Workqueue, d *DelayedWork, delay time.Duration) bool {
	was := d.grabPending()
	wq.queueDelayed(-1, d, delay)
	return was
}

// CancelDelayedWork is cancel_delayed_work: stop the timer or dequeue; does
// not wait for a running instance. It reports whether d was pending.
func CancelDelayedWork(d *DelayedWork) bool { return CancelWork(&d.Work) }

// CancelDelayedWorkSync is cancel_delayed_work_sync.
func CancelDelayedWorkSync(d *DelayedWork) bool { return CancelWorkSync(&d.Work) }

// FlushDelayedWork is flush_delayed_work: queue d now if its timer is armed,
// then FlushWork.
func FlushDelayedWork(d *DelayedWork) bool {
	if wq := d.wq.Load(); wq != nil {
		wq.mu.Lock()
		armed := d.inTimer
		if armed {
			d.inTimer = false
			d.timer.Stop()
			wq.insertLocked(&d.Work, wq.poolFor(d.cpu))
		}
		wq.mu.Unlock()
	}
	return FlushWork(&d.Work)
}
