package rt

import (
	"runtime"
	"sync/atomic"
)

// lockedThreads counts the OS threads StartThread has started and locked
// that are still alive.
var lockedThreads atomic.Int64

// LockedThreads is the number of OS threads started with StartThread that
// are still running (the deferral package starts every thread of its CPUs
// and executors so).
func LockedThreads() int { return int(lockedThreads.Load()) }

// SizeGOMAXPROCS sets GOMAXPROCS to runtime.NumCPU() + LockedThreads() +
// extra (threads locked outside this package, e.g. a real-time probe) and
// returns the previous and the new value. Call it once the CPUs and
// executors have started (it stops the world: not on a hot path).
//
// Why: a locked thread runs Go code only while it holds one of GOMAXPROCS
// Ps. When the kernel wakes a real-time bottom half, its thread must first
// get a P; if every P is held by ordinary goroutines (the stats loop, a
// handler's helper, the garbage collector's workers), it waits for the Go
// scheduler, an inversion the kernel cannot see. With one P per locked
// thread beyond the cores, the cores' worth of ordinary goroutines cannot
// hold them all. The Go scheduler reserves no P for anyone, so this makes a
// free P likely, not certain. Workqueue workers started later (a pool grows
// when an item sleeps) are not covered until the next call.
func SizeGOMAXPROCS(extra int) (prev, now int) {
	now = runtime.NumCPU() + LockedThreads() + max(extra, 0)
	return runtime.GOMAXPROCS(now), now
}
