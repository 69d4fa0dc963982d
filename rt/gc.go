package rt

import (
	"runtime/debug"
	"runtime/metrics"
)

// The Go runtime under real time: garbage collection. Locking memory
// (LockMemory) is in sys_linux.go with the package's other system calls.

// GCOff turns the garbage collector's pacing off (GOGC=off) and sets a soft
// memory limit of limit bytes instead: the collector then runs only when the
// heap nears the limit. A steady packet path that allocates nothing never
// gets there, so no collection stops the real-time threads (stop-the-world
// phases, mark assists in handlers). restore puts the previous settings back.
func GCOff(limit int64) (restore func()) {
	pct := debug.SetGCPercent(-1)
	old := debug.SetMemoryLimit(limit)
	return func() {
		debug.SetMemoryLimit(old)
		debug.SetGCPercent(pct)
	}
}

// GCCycles is the number of completed GC cycles of the process
// (runtime/metrics /gc/cycles/total:gc-cycles). It allocates a little: not
// for the packet path.
func GCCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
