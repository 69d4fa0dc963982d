package bench

import (
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
)

// Real-time scenario priorities: hard IRQs (the top half) above the periodic
// task, the task above threaded IRQs (50, the kernel's default).
const (
	RTIRQPrio  = 90
	RTTaskPrio = 80
)

// HostRTOptions is the host scenario of make bench: core 1 shared by the top
// half, the bottom half and the task; the generator spins on core 0. 20 000
// interrupts/s of 60 µs each offer 1.2 cores of bottom-half work: overload,
// where the mechanisms differ.
func HostRTOptions(d time.Duration) SynthOptions {
	return SynthOptions{CPU: 1, GenCPU: 0, IRQPrio: RTIRQPrio, TaskPrio: RTTaskPrio, IRQRate: 20000,
		PacketWork: 60 * time.Microsecond, Backlog: 2048,
		Task: PeriodicOptions{Period: time.Millisecond, Work: 100 * time.Microsecond, Duration: d}}
}

// DefaultLabOptions is the lab run of make bench (quick: a smoke run).
func DefaultLabOptions(modes []deferral.Mode, b driver.Backend, quick bool) LabOptions {
	o := LabOptions{
		NICs: DefaultNICs, Backend: b, Modes: modes,
		Profile: []deferral.Mode{deferral.ModeBusyPoll, deferral.ModeThreaded, deferral.ModeNAPI},
		// 20 000 round trips per repetition, 3 repetitions.
		RTT: 20000, TputFrames: 20000, Window: 32, Reps: 3,
		Rates:    []float64{2000, 5000, 10000, 15000, 20000, 30000, 40000, 60000, 80000, 100000, 150000},
		RateStep: 500 * time.Millisecond,
		CPURate:  5000, CPULight: 1000, CPUTime: 2 * time.Second,
		RTModes: modes, RTTime: 5 * time.Second, RTRate: 8000, RTWork: 150 * time.Microsecond,
		RTTaskWork: 100 * time.Microsecond, RTIRQPrio: RTIRQPrio, RTTaskPrio: RTTaskPrio,
		Timeout: 45 * time.Minute,
	}
	if quick {
		o.RTT, o.TputFrames, o.Reps = 300, 3000, 2
		o.Rates = []float64{5000, 20000, 80000}
		o.CPUTime = time.Second
		o.RTTime = 2 * time.Second
		o.Timeout = 10 * time.Minute
	}
	return o
}
