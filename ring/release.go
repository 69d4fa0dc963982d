//go:build !amd64 || race || ringxchg

package ring

import "sync/atomic"

// storeRelease publishes v in *p for a reader that Loads *p atomically.
//
// Everywhere but amd64 without the race detector this is atomic.Store: on
// arm64 that is already a release store (STLR), and under -race it tells the
// detector about the synchronisation. See release_unsafe.go for amd64. The
// build tag ringxchg selects this version on amd64 too, to measure what the
// XCHG costs (BENCH.md).
func storeRelease(p *atomic.Uint64, v uint64) { p.Store(v) }
