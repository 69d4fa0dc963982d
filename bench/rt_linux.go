package bench

import (
	"github.com/uiodrv/uiodrv/internal/rtprobe"
	"github.com/uiodrv/uiodrv/rt"
)

// The real-time probe (a periodic SCHED_FIFO task) lives in internal/rtprobe,
// shared with uiodrv rt; these names keep the benchmarks' vocabulary.
type (
	// PeriodicOptions configures the probe (rtprobe.Options).
	PeriodicOptions = rtprobe.Options
	// PeriodicResult is what the probe saw (rtprobe.Result).
	PeriodicResult = rtprobe.Result
)

// RunPeriodic runs the probe (rtprobe.Run).
func RunPeriodic(o PeriodicOptions) (*PeriodicResult, error) { return rtprobe.Run(o) }

// Spin burns the CPU for d of wall-clock time (rtprobe.Spin).
var Spin = rtprobe.Spin

func monoNS() int64 { return rtprobe.MonoNS() }

// SizeGOMAXPROCS gives the process one Go P per thread locked so far by the
// deferral package plus the probe's own, beyond the cores, so that a locked
// real-time thread woken by the kernel finds an idle P at once instead of
// queueing behind ordinary goroutines (rt.SizeGOMAXPROCS says why). Call
// it once the port or the synthetic scenario's threads are up. It replaces
// the fixed cores + 6 the benchmarks used before.
// extra counts other threads the caller locked itself (the synthetic
// scenario's interrupt generator).
func SizeGOMAXPROCS(extra int) (prev, now int) {
	return rt.SizeGOMAXPROCS(rtprobe.Threads + extra)
}
