package deferral

import "golang.org/x/sys/unix"

// SleepUntil sleeps until CLOCK_MONOTONIC reaches ns (clock_nanosleep with
// TIMER_ABSTIME), restarting after signals. It is for real-time threads
// (periodic tasks): the Go runtime does not see it as a system call, so no
// other thread can take this thread's P while it sleeps and make it spin on
// waking (see doc.go, "Real-time threads and the Go runtime's system
// calls"). The goroutine keeps its P while it sleeps. It does not allocate.
func SleepUntil(ns int64) {
	ts := unix.NsecToTimespec(ns)
	for rawClockNanosleepAbs(&ts) == unix.EINTR {
	}
}
