package deferral

import (
	"runtime"
	"sync"
)

// A top half waits for interrupts in a raw system call (doc.go, "Real-time
// threads and the Go runtime's system calls"), so it holds one of the
// runtime's Ps for its whole life, blocked or not. Each CPU adds one P to
// GOMAXPROCS while it runs, so that the rest of the program keeps the Ps it
// had. (GOMAXPROCS stops the world; this happens at NewCPU and Close only.)
var procsMu sync.Mutex

func addProcs(n int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	if cur := runtime.GOMAXPROCS(0); cur+n >= 1 {
		runtime.GOMAXPROCS(cur + n)
	}
}
