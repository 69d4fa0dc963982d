package qemu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Host-side thread placement for real-time measurements in the lab.
//
// Under TCG each vCPU is a host thread (-accel tcg,thread=multi), and a guest
// task's timer fires only when the host runs its vCPU's thread. On a host of
// two cores shared by QEMU's vCPU threads, its main loop (which delivers the
// frames, under the global lock) and the host peer, a guest task misses
// deadlines because its vCPU waits for a host core, whatever the guest's own
// priorities. HostPlacement gives vCPU 0's thread a host core of its own, as
// RT-VM tuning guides do (vCPU threads pinned to isolated cores, optionally
// SCHED_FIFO): everything else of QEMU and the calling process (the host
// peer) goes to the other core.

// HostPlacement places the lab's host threads.
type HostPlacement struct {
	// VCPU0 is the host CPU that vCPU 0's thread is pinned to alone.
	VCPU0 int
	// Rest is the host CPU for QEMU's other threads (the other vCPUs, the
	// main loop, the RCU and worker threads) and for every thread of the
	// calling process (the host peer).
	Rest int
	// FIFO, unless 0, is a host SCHED_FIFO priority for vCPU 0's thread.
	// Beware: a vCPU that spins on QEMU's global lock held by a thread on
	// the other core is fine, but one that never halts is throttled by the
	// host's RT throttling (sched_rt_runtime_us) with the rest of the core.
	FIFO int
	// Nice, unless 0 or FIFO is set, is a host nice value (SCHED_OTHER) for
	// vCPU 0's thread. Beside the main loop on one core, a negative value
	// lets the vCPU preempt the main loop's frame delivery as soon as it
	// wakes, while a vCPU that never halts still leaves the main loop (and
	// so the guest's timers) a share of the core: unlike FIFO, it cannot
	// starve the thread that fires its own timer.
	Nice int
	// SelfNice, unless 0, is a host nice value for every thread of the
	// calling process (the host peer, which shares Rest with the other
	// vCPUs). A peer flooding as fast as it can otherwise takes half of
	// Rest from a vCPU that may hold QEMU's global lock, which vCPU 0 then
	// waits for: a wire takes no CPU from a real machine.
	SelfNice int
	// MainLoop puts QEMU's main-loop thread (the process's main thread)
	// beside vCPU 0 on VCPU0, at host SCHED_FIFO MainFIFO unless 0. Under
	// TCG the guest's APIC timer is a QEMU_CLOCK_VIRTUAL timer that the main
	// loop fires before it kicks the vCPU, so a task's wake-up needs both
	// threads; the main loop also delivers the frames, so this puts QEMU's
	// receive work on the task's core too.
	MainLoop bool
	MainFIFO int
	// Isolate, with a pinned placement, also moves every other host thread
	// that may (every process's, and the kernel's threads that are not
	// per-CPU), the host's device interrupts and its unbound workqueues off
	// VCPU0 while placed: that core is then vCPU 0's (and the main loop's,
	// with MainLoop) but for per-CPU kernel work.
	Isolate bool
	// NoPin leaves every CPU mask alone: only the FIFO priorities apply,
	// and the host scheduler runs the FIFO threads on whichever core is free.
	NoPin bool
}

// VCPUThreads returns the host thread IDs of the guest's vCPUs by index
// (QMP query-cpus-fast). The VM must have been started with Config.QMP.
func (vm *VM) VCPUThreads() ([]int, error) {
	if vm.qmpPath == "" {
		return nil, errors.New("lab: VCPUThreads needs Config.QMP")
	}
	var cpus []struct {
		Index  int `json:"cpu-index"`
		Thread int `json:"thread-id"`
	}
	if err := vm.qmpCall("query-cpus-fast", nil, &cpus); err != nil {
		return nil, err
	}
	out := make([]int, len(cpus))
	for _, c := range cpus {
		if c.Index < 0 || c.Index >= len(out) || c.Thread <= 0 {
			return nil, fmt.Errorf("lab: query-cpus-fast: bad entry %+v", c)
		}
		out[c.Index] = c.Thread
	}
	return out, nil
}

// threadState is what PlaceHost changed on one thread, to restore it.
type threadState struct {
	tid  int
	mask unix.CPUSet
	attr *unix.SchedAttr // nil: the policy was not changed
}

// PlaceHost applies p to QEMU's threads and the calling process's, and
// returns a function that undoes it (the previous CPU masks and vCPU 0's
// previous policy; threads started meanwhile get their process's previous
// mask). A thread that has exited is skipped. On error nothing stays changed.
func (vm *VM) PlaceHost(p HostPlacement) (restore func() error, err error) {
	n := runtimeCPUs()
	if !p.NoPin && (p.VCPU0 < 0 || p.VCPU0 >= n || p.Rest < 0 || p.Rest >= n || p.VCPU0 == p.Rest) {
		return nil, fmt.Errorf("lab: host placement: CPUs %d and %d must differ and be in 0-%d", p.VCPU0, p.Rest, n-1)
	}
	for _, n := range []int{p.Nice, p.SelfNice} {
		if n < -20 || n > 19 {
			return nil, fmt.Errorf("lab: host placement: nice %d not in -20..19", n)
		}
	}
	for _, f := range []int{p.FIFO, p.MainFIFO} {
		if f < 0 || f > 99 {
			return nil, fmt.Errorf("lab: host placement: FIFO %d not in 0-99", f)
		}
	}
	if p.Isolate && p.NoPin {
		return nil, errors.New("lab: host placement: Isolate needs a pinned placement")
	}
	if p.MainFIFO != 0 && !p.MainLoop {
		return nil, errors.New("lab: host placement: MainFIFO needs MainLoop")
	}
	vcpus, err := vm.VCPUThreads()
	if err != nil {
		return nil, err
	}
	qemuTids, err := tasks(vm.PID())
	if err != nil {
		return nil, err
	}
	selfTids, err := tasks(os.Getpid())
	if err != nil {
		return nil, err
	}
	var one, rest unix.CPUSet
	one.Set(p.VCPU0)
	rest.Set(p.Rest)
	var qemuMask, selfMask unix.CPUSet
	_ = unix.SchedGetaffinity(vm.PID(), &qemuMask)
	_ = unix.SchedGetaffinity(0, &selfMask)
	var selfAttr *unix.SchedAttr
	if p.SelfNice != 0 {
		if selfAttr, err = unix.SchedGetAttr(0, 0); err != nil {
			return nil, fmt.Errorf("lab: host placement: sched_getattr: %w", err)
		}
	}
	var changed []threadState
	undo := func() error {
		var errs []error
		for i := len(changed) - 1; i >= 0; i-- {
			s := changed[i]
			if s.attr != nil {
				if err := unix.SchedSetAttr(s.tid, s.attr, 0); err != nil && err != unix.ESRCH {
					errs = append(errs, fmt.Errorf("tid %d: sched_setattr: %w", s.tid, err))
				}
			}
			if err := unix.SchedSetaffinity(s.tid, &s.mask); err != nil && err != unix.ESRCH {
				errs = append(errs, fmt.Errorf("tid %d: sched_setaffinity: %w", s.tid, err))
			}
		}
		// Threads started while placed inherited a narrow mask (and the
		// calling process's, its SelfNice).
		for _, pm := range []struct {
			pid  int
			mask unix.CPUSet
			attr *unix.SchedAttr
		}{{vm.PID(), qemuMask, nil}, {os.Getpid(), selfMask, selfAttr}} {
			tids, _ := tasks(pm.pid)
			for _, t := range tids {
				if !hasTid(changed, t) {
					_ = unix.SchedSetaffinity(t, &pm.mask)
					if pm.attr != nil {
						_ = unix.SchedSetAttr(t, pm.attr, 0)
					}
				}
			}
		}
		return errors.Join(errs...)
	}
	place := func(tid int, mask *unix.CPUSet, fifo, nice int) error {
		s := threadState{tid: tid}
		if err := unix.SchedGetaffinity(tid, &s.mask); err != nil {
			if err == unix.ESRCH {
				return nil
			}
			return fmt.Errorf("tid %d: sched_getaffinity: %w", tid, err)
		}
		if fifo > 0 || nice != 0 {
			a, err := unix.SchedGetAttr(tid, 0)
			if err != nil {
				return fmt.Errorf("tid %d: sched_getattr: %w", tid, err)
			}
			s.attr = a
		}
		if mask == nil {
			// NoPin: the saved mask is restored unchanged.
		} else if err := unix.SchedSetaffinity(tid, mask); err != nil {
			if err == unix.ESRCH {
				return nil
			}
			return fmt.Errorf("tid %d: sched_setaffinity: %w", tid, err)
		}
		changed = append(changed, s)
		switch {
		case fifo > 0:
			if err := unix.SchedSetAttr(tid, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(fifo)}, 0); err != nil {
				return fmt.Errorf("tid %d: SCHED_FIFO %d: %w", tid, fifo, err)
			}
		case nice != 0:
			if err := unix.SchedSetAttr(tid, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL, Nice: int32(nice)}, 0); err != nil {
				return fmt.Errorf("tid %d: nice %d: %w", tid, nice, err)
			}
		}
		return nil
	}
	fail := func(err error) (func() error, error) {
		_ = undo()
		return nil, fmt.Errorf("lab: host placement: %w", err)
	}
	if len(vcpus) == 0 {
		return fail(errors.New("no vCPU threads"))
	}
	for _, t := range qemuTids {
		mask, fifo, nice := &rest, 0, 0
		switch {
		case t == vcpus[0]:
			mask, fifo, nice = &one, p.FIFO, p.Nice
		case t == vm.PID() && p.MainLoop:
			mask, fifo = &one, p.MainFIFO
		}
		if p.NoPin {
			mask = nil
		}
		if mask == nil && fifo == 0 && nice == 0 {
			continue
		}
		if err := place(t, mask, fifo, nice); err != nil {
			return fail(err)
		}
	}
	for _, t := range selfTids {
		if p.NoPin {
			break
		}
		if err := place(t, &rest, 0, p.SelfNice); err != nil {
			return fail(err)
		}
	}
	var got unix.CPUSet // read back: the placement is what is measured
	if err := unix.SchedGetaffinity(vcpus[0], &got); !p.NoPin && (err != nil || got != one) {
		return fail(fmt.Errorf("vCPU 0 thread %d: mask %v after placement (%v)", vcpus[0], got, err))
	}
	if !p.Isolate || p.NoPin {
		return undo, nil
	}
	iso, err := isolateHostCPU(p.VCPU0, vm.PID(), os.Getpid())
	if err != nil {
		return fail(err)
	}
	return func() error { return errors.Join(iso.undo(), undo()) }, nil
}

func hasTid(ss []threadState, tid int) bool {
	for _, s := range ss {
		if s.tid == tid {
			return true
		}
	}
	return false
}

// tasks lists a process's thread IDs (/proc/PID/task).
func tasks(pid int) ([]int, error) {
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return nil, fmt.Errorf("lab: threads of %d: %w", pid, err)
	}
	var out []int
	for _, e := range ents {
		if t, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// runtimeCPUs is the number of host CPUs the calling process may use.
func runtimeCPUs() int {
	var s unix.CPUSet
	if err := unix.SchedGetaffinity(0, &s); err != nil {
		return 1
	}
	return s.Count()
}
