package deferral

import (
	"sync/atomic"
	"time"
)

// Tasklet state bits (TASKLET_STATE_SCHED, TASKLET_STATE_RUN).
const (
	taskletSched = 1 << iota
	taskletRun
)

// Tasklet is a deferred function run in softirq context (HI or TASKLET
// softirq) on the CPU that scheduled it. Guarantees, from kernel/softirq.c:
//   - Schedule on a scheduled (not yet run) tasklet does nothing, so N
//     schedules before it runs give one run (test_and_set_bit(SCHED) in
//     tasklet_schedule).
//   - It never runs concurrently with itself, even when scheduled on two CPUs
//     (tasklet_trylock on TASKLET_STATE_RUN in tasklet_action_common; the
//     loser puts it back on its list and re-raises).
//   - SCHED is cleared just before the function runs, so a Schedule during
//     the run gives exactly one more run.
//   - Disable/Enable nest (the count in tasklet_disable_nosync/tasklet_enable).
//   - Kill waits for a scheduled run and a running one (tasklet_kill).
//
// One deliberate difference: the kernel keeps a disabled, scheduled tasklet on
// its list and re-raises the softirq on every pass, which spins ksoftirqd
// until it is enabled. Here it is parked and re-queued by the last Enable.
type Tasklet struct {
	fn    func()
	hi    bool
	state atomic.Uint32
	count atomic.Int32        // disable depth
	cpu   atomic.Pointer[CPU] // where it was last scheduled
	// next links the tasklet in one list of cpu, under cpu.tmu.
	next   *Tasklet
	parked bool // on cpu.parked, under cpu.tmu
}

type taskletList struct{ head, tail *Tasklet }

func (l *taskletList) push(t *Tasklet) {
	t.next = nil
	if l.tail == nil {
		l.head = t
	} else {
		l.tail.next = t
	}
	l.tail = t
}

func (l *taskletList) remove(t *Tasklet) bool {
	var prev *Tasklet
	for x := l.head; x != nil; prev, x = x, x.next {
		if x != t {
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
		x.next = nil
		return true
	}
	return false
}

// NewTasklet is tasklet_setup/DECLARE_TASKLET: a normal-priority tasklet (TASKLET_SOFTIRQ).
func NewTasklet(fn func()) *Tasklet { return &Tasklet{fn: fn} }

// NewHiTasklet is a tasklet scheduled with tasklet_hi_schedule: it runs from
// HI_SOFTIRQ, before every other softirq and before normal tasklets.
func NewHiTasklet(fn func()) *Tasklet { return &Tasklet{fn: fn, hi: true} }

func (t *Tasklet) kind() (int, Softirq) {
	if t.hi {
		return 0, HISoftirq
	}
	return 1, TaskletSoftirq
}

// Schedule is tasklet_schedule (tasklet_hi_schedule for a hi tasklet) on c.
// It reports whether this call scheduled it (false: it was already pending).
// It does not allocate.
func (t *Tasklet) Schedule(c *CPU) bool {
	if t.state.Or(taskletSched)&taskletSched != 0 {
		return false
	}
	t.cpu.Store(c)
	k, nr := t.kind()
	c.tmu.Lock()
	c.tasklets[k].push(t)
	c.tmu.Unlock()
	c.RaiseSoftirq(nr)
	return true
}

// Scheduled reports whether a run is pending.
func (t *Tasklet) Scheduled() bool { return t.state.Load()&taskletSched != 0 }

// DisableNosync is tasklet_disable_nosync: no run starts until Enable.
func (t *Tasklet) DisableNosync() { t.count.Add(1) }

// Disable is tasklet_disable: DisableNosync, then wait for a running instance.
func (t *Tasklet) Disable() {
	t.count.Add(1)
	t.unlockWait()
}

// Enable is tasklet_enable; the last Enable releases a parked scheduled run.
func (t *Tasklet) Enable() {
	if t.count.Add(-1) != 0 {
		return
	}
	c := t.cpu.Load()
	if c == nil {
		return
	}
	k, nr := t.kind()
	c.tmu.Lock()
	if !t.parked {
		c.tmu.Unlock()
		return
	}
	c.parked[k].remove(t)
	t.parked = false
	c.tasklets[k].push(t)
	c.tmu.Unlock()
	c.RaiseSoftirq(nr)
}

// Kill is tasklet_kill: wait until a scheduled run has happened and a running
// one has finished. Like the kernel's, it never returns for a tasklet that is
// scheduled and disabled. It must not be called from the tasklet itself.
func (t *Tasklet) Kill() {
	for t.state.Or(taskletSched)&taskletSched != 0 {
		if c := t.cpu.Load(); c != nil && c.stopping.Load() {
			break // its CPU is gone: the pending run never comes
		}
		time.Sleep(20 * time.Microsecond)
	}
	t.unlockWait()
	t.state.And(^uint32(taskletSched))
}

func (t *Tasklet) unlockWait() {
	for t.state.Load()&taskletRun != 0 {
		time.Sleep(20 * time.Microsecond)
	}
}

// taskletAction is tasklet_action_common for list k (0 hi, 1 normal).
func (c *CPU) taskletAction(k int) {
	nr := HISoftirq
	if k == 1 {
		nr = TaskletSoftirq
	}
	c.tmu.Lock()
	t := c.tasklets[k].head
	c.tasklets[k] = taskletList{}
	c.tmu.Unlock()
	for t != nil {
		next := t.next
		t.next = nil
		if t.state.Or(taskletRun)&taskletRun == 0 { // tasklet_trylock
			if t.count.Load() == 0 {
				if t.state.And(^uint32(taskletSched))&taskletSched == 0 {
					panic("deferral: tasklet on a list without TASKLET_STATE_SCHED")
				}
				t.fn()
				t.state.And(^uint32(taskletRun))
				t = next
				continue
			}
			t.state.And(^uint32(taskletRun))
			// Disabled: park it; re-check the count under the lock that
			// Enable takes, so a racing Enable cannot be missed.
			c.tmu.Lock()
			if t.count.Load() != 0 {
				t.parked = true
				c.parked[k].push(t)
				c.tmu.Unlock()
				t = next
				continue
			}
			c.tmu.Unlock()
		}
		// Running on another CPU (or just enabled): back on the list, raise again.
		c.tmu.Lock()
		c.tasklets[k].push(t)
		c.tmu.Unlock()
		c.pending.Or(1 << uint(nr))
		t = next
	}
}
