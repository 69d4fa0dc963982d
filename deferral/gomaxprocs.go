package deferral

import (
	"runtime"
	"sync/atomic"
)

// lockedThreads counts the OS threads this package has started and locked
// (startThread) that are still alive.
var lockedThreads atomic.Int64

// LockedThreads is the number of OS threads the package's CPUs and executors
// have locked and that are still running: two per CPU (top half and
// ksoftirqd), one per threaded-IRQ thread, busy poller and NAPI-less
// executor thread, one per live workqueue worker.
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
