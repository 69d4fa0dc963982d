package bench

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/deferral"
)

// SynthOptions configures the host real-time scenario with synthetic
// interrupts: a generator thread on GenCPU writes an eventfd IRQRate times a
// second, each interrupt bringing one "packet" that costs PacketWork of CPU
// in the bottom half, which shares core CPU with the periodic task.
type SynthOptions struct {
	CPU        int // the shared core: top half, bottom half, periodic task
	GenCPU     int // the interrupt generator's core
	IRQPrio    int // the top half's SCHED_FIFO priority (above the task's)
	TaskPrio   int
	IRQRate    int           // interrupts per second
	PacketWork time.Duration // bottom-half CPU per packet
	Backlog    int           // packets that may wait (a ring); more are dropped
	Task       PeriodicOptions
}

// SynthResult is one mode's outcome.
type SynthResult struct {
	Mode      string
	Task      *PeriodicResult
	Offered   uint64 // packets generated
	Processed uint64 // packets the bottom half finished
	Dropped   uint64 // packets that found the backlog full
	IRQs      uint64
}

// RunSynth runs the scenario for one mode; mode nil runs the task alone
// (the idle floor).
func RunSynth(o SynthOptions, mode *deferral.Mode) (*SynthResult, error) {
	res := &SynthResult{Mode: "idle (no load)"}
	o.Task.CPU, o.Task.Prio = o.CPU, o.TaskPrio
	if mode == nil {
		r, err := RunPeriodic(o.Task)
		res.Task = r
		return res, err
	}
	res.Mode = mode.String()
	cpu, err := deferral.NewCPU(deferral.CPUOptions{CPU: o.CPU, RTPrio: o.IRQPrio, Name: "synth"})
	if err != nil {
		return nil, err
	}
	defer cpu.Close()
	var pending, processed, dropped atomic.Int64
	poll := func(budget int) int {
		n := int(min(pending.Load(), int64(budget)))
		for range n {
			Spin(o.PacketWork)
		}
		pending.Add(-int64(n))
		processed.Add(int64(n))
		return n
	}
	exec, err := deferral.NewExecutor(deferral.ExecutorOptions{Mode: *mode, CPU: cpu, Poll: poll, Name: "synth"})
	if err != nil {
		return nil, err
	}
	defer exec.Close()
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	defer unix.Close(efd)
	var action *deferral.IRQAction
	if *mode != deferral.ModeBusyPoll {
		action, err = cpu.RequestIRQ(deferral.IRQ{Fd: efd}, func() deferral.IRQReturn {
			exec.Schedule()
			return deferral.IRQHandled
		}, "synth")
		if err != nil {
			return nil, err
		}
		defer action.Free()
	}
	var stop atomic.Bool
	var offered atomic.Int64
	genDone := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var set unix.CPUSet
		set.Set(o.GenCPU)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			genDone <- os.NewSyscallError("sched_setaffinity", err)
			return
		}
		one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
		interval := int64(time.Second) / int64(o.IRQRate)
		next := monoNS()
		for !stop.Load() {
			for monoNS() < next {
			}
			next += interval
			offered.Add(1)
			if pending.Load() >= int64(o.Backlog) {
				dropped.Add(1)
				continue
			}
			pending.Add(1)
			if action != nil {
				_, _ = unix.Write(efd, one)
			}
		}
		genDone <- nil
	}()
	// Let the load reach its steady state before the task starts.
	time.Sleep(200 * time.Millisecond)
	p0, o0, d0 := processed.Load(), offered.Load(), dropped.Load()
	var irq0 uint64
	if action != nil {
		irq0 = action.Count()
	}
	SizeGOMAXPROCS(1) // the generator's locked, spinning thread
	r, err := RunPeriodic(o.Task)
	res.Processed = uint64(processed.Load() - p0)
	res.Offered = uint64(offered.Load() - o0)
	res.Dropped = uint64(dropped.Load() - d0)
	if action != nil {
		res.IRQs = action.Count() - irq0
	}
	stop.Store(true)
	if gerr := <-genDone; gerr != nil && err == nil {
		err = gerr
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %w", mode, err)
	}
	res.Task = r
	return res, nil
}
