package deferral

import (
	"sync"
	"sync/atomic"

	"github.com/uiodrv/uiodrv/rt"
)

// irqThread is irq_thread: a kernel-thread-like OS thread that runs fn each
// time it is woken. Wakes while it runs merge into one more run (IRQTF_RUNTHREAD).
type irqThread struct {
	fn    func()
	after func() // after each run: irq_finalize_oneshot
	tid   int

	runFlag   atomic.Bool   // IRQTF_RUNTHREAD
	wakeCh    chan struct{} // one token per runFlag 0->1 transition
	affinity  atomic.Int32  // wanted core, -1 = any
	affChange atomic.Bool   // IRQTF_AFFINITY
	runs      atomic.Uint64
	stopCh    chan struct{}
	doneCh    chan struct{}
	stopOnce  sync.Once
}

func newIRQThread(name string, cpu, rtPrio int, fn func()) (*irqThread, error) {
	return newIRQThreadAttrs(rt.ThreadAttrs{Name: name, CPU: cpu, Sched: threadClass(rt.Sched{}, rtPrio, 0)}, fn)
}

// newIRQThreadAttrs is newIRQThread with every thread attribute (any class).
func newIRQThreadAttrs(a rt.ThreadAttrs, fn func()) (*irqThread, error) {
	cpu := a.CPU
	t := &irqThread{fn: fn, wakeCh: make(chan struct{}, 1), stopCh: make(chan struct{}), doneCh: make(chan struct{})}
	t.affinity.Store(int32(cpu))
	tid, err := rt.StartThread(a, t.loop)
	if err != nil {
		return nil, err
	}
	t.tid = tid
	return t, nil
}

// wake is irq_wake_thread: set RUNTHREAD; if it was clear, wake the thread.
// It does not allocate.
func (t *irqThread) wake() {
	if !t.runFlag.Swap(true) {
		select {
		case t.wakeCh <- struct{}{}:
		default:
		}
	}
}

func (t *irqThread) setAffinity(cpu int) {
	t.affinity.Store(int32(cpu))
	t.affChange.Store(true)
}

func (t *irqThread) loop() {
	defer close(t.doneCh)
	for {
		select {
		case <-t.wakeCh:
		case <-t.stopCh:
			return
		}
		if !t.runFlag.Swap(false) {
			continue
		}
		if t.affChange.Swap(false) { // irq_thread_check_affinity, between runs
			if cpu := int(t.affinity.Load()); cpu >= 0 {
				_ = rt.PinThread(0, cpu)
			} else {
				_ = rt.UnpinThread(0)
			}
		}
		t.fn()
		t.runs.Add(1)
		if t.after != nil {
			t.after()
		}
	}
}

// stopAndWait is kthread_stop: it lets a running fn finish, then ends the thread.
func (t *irqThread) stopAndWait() {
	t.stopOnce.Do(func() { close(t.stopCh) })
	<-t.doneCh
}
