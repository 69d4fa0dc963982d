package deferral

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/rt"
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
	// this many. Workers beyond a pool's last idle one exit after
	// IdleWorkerTimeout idle, as the kernel's do.
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
	sched      rt.Sched
	maxWorkers int
	// idleTimeout is how long a pool's workers beyond its last idle one
	// may stay idle (IdleWorkerTimeout; tests shorten it). Guarded by mu.
	idleTimeout time.Duration
}

// NewWorkqueue is alloc_workqueue(name, flags, maxActive); maxActive 0 means
// WQDefaultActive. It starts one worker per pool so that a permission error
// (WQHighPri needs CAP_SYS_NICE) shows here.
func NewWorkqueue(name string, flags WQFlags, maxActive int) (*Workqueue, error) {
	return newWorkqueue(name, flags, maxActive, rt.Sched{}, MaxWorkersPerPool)
}

func newWorkqueue(name string, flags WQFlags, maxActive int, sched rt.Sched, maxWorkers int) (*Workqueue, error) {
	if maxActive < 0 {
		return nil, fmt.Errorf("deferral: workqueue %q: max_active %d < 0", name, maxActive)
	}
	if maxActive == 0 {
		maxActive = WQDefaultActive
	}
	wq := &Workqueue{name: name, flags: flags, maxActive: maxActive, executing: map[*Work]*worker{},
		sched: sched, maxWorkers: maxWorkers, idleTimeout: IdleWorkerTimeout}
	wq.doneCond = sync.NewCond(&wq.mu)
	cpus := []int{-1}
	if flags&WQUnbound == 0 {
		cpus = cpus[:0]
		for i := 0; i < rt.NumCPU(); i++ {
			// A CPU the process may not use (it runs in a cpuset that
			// leaves it out) gets an unbound pool, as the kernel runs an
			// offline CPU's work: its work runs, wherever it may.
			cpu := i
			if !rt.AllowedCPU(i) {
				cpu = -1
			}
			cpus = append(cpus, cpu)
		}
	}
	for _, cpu := range cpus {
		wq.pools = append(wq.pools, newPool(wq, cpu))
	}
	wq.mu.Lock()
	defer wq.mu.Unlock()
	for _, p := range wq.pools {
		if err := p.startWorkerLocked(true); err != nil {
			wq.closed = true
			for _, p := range wq.pools {
				p.wakeAllLocked()
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
			p.wakeAllLocked()
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
