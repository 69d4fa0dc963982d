package deferral

import (
	"errors"
	"fmt"

	"github.com/uiodrv/uiodrv/rt"
)

// NewWorkqueueSched is NewWorkqueue whose workers run under s (rt.PolicyDefault:
// nice -20 with WQHighPri, else 0), with at most maxWorkers workers per pool
// (0 means MaxWorkersPerPool).
//
// Under SCHED_DEADLINE every worker is a reservation of its own, admitted
// when it starts: a pool that grows (its running item slept) asks admission
// control again, and a refused worker is simply not started. Deadline
// workers cannot be pinned (see rt.Sched), so a bound queue's pools keep their
// lists but not their CPUs; WQUnbound with maxWorkers 1 bounds the queue's
// share of the CPU to one reservation.
func NewWorkqueueSched(name string, flags WQFlags, maxActive int, s rt.Sched, maxWorkers int) (*Workqueue, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if maxWorkers <= 0 {
		maxWorkers = MaxWorkersPerPool
	}
	return newWorkqueue(name, flags, maxActive, s, maxWorkers)
}

// Sched is the workers' scheduling class (rt.PolicyDefault unless set with
// NewWorkqueueSched).
func (wq *Workqueue) Sched() rt.Sched { return wq.sched }

// checkExecSched refuses an ExecutorOptions.Sched the mode cannot apply.
func checkExecSched(o *ExecutorOptions) error {
	if o.Sched.IsZero() {
		return nil
	}
	if err := o.Sched.Validate(); err != nil {
		return err
	}
	switch {
	case o.Mode != ModeThreaded && o.Mode != ModeWorkqueue:
		return fmt.Errorf("deferral: a bottom-half Sched applies to the threaded and workqueue modes, not %v "+
			"(its bottom half runs on the top half's thread: CPUOptions.RTPrio)", o.Mode)
	case o.Mode == ModeThreaded && o.ThreadPrio != 0:
		return errors.New("deferral: give ThreadPrio or rt.Sched, not both")
	case o.Mode == ModeWorkqueue && o.Workqueue != nil:
		return errors.New("deferral: Sched applies to the executor's private workqueue; give a shared one its class with NewWorkqueueSched")
	}
	return nil
}

// newExecWorkqueue is ModeWorkqueue's private queue: bound and high-priority,
// or under s; unbound with one worker under SCHED_DEADLINE.
func newExecWorkqueue(name string, s rt.Sched) (*Workqueue, error) {
	switch s.Policy {
	case rt.PolicyDefault:
		return NewWorkqueue(name, WQHighPri, 0)
	case rt.PolicyDeadline:
		return NewWorkqueueSched(name, WQUnbound, 0, s, 1)
	}
	return NewWorkqueueSched(name, WQHighPri, 0, s, 0)
}
