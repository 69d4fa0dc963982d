package deferral

import (
	"time"

	"github.com/uiodrv/uiodrv/rt"
)

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
		cpu = rt.CurrentCPU()
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
