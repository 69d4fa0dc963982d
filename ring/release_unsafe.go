//go:build amd64 && !race && !ringxchg

package ring

import (
	"sync/atomic"
	"unsafe"
)

// storeRelease publishes v in *p for a reader that Loads *p atomically.
//
// Why not atomic.Store: on amd64 it compiles to XCHG, a locked instruction
// that is a full barrier and waits until this CPU owns p's cache line. When
// the peer is polling that line (the ring is empty and the consumer spins on
// tail, or full and the producer spins on head) every publication then stalls
// for a cross-CPU round trip, which halves single-element throughput (see
// BENCH.md). The ring needs only release order: the slot writes (producer) or
// slot reads (consumer) before the store must be visible before it. x86-TSO
// gives that to a plain MOV: stores are not reordered with older stores, nor
// with older loads (Intel SDM vol. 3A, "Memory Ordering in P6 and More Recent
// Processor Families"; AMD APM vol. 2, "Memory-Access Ordering"; it is how
// Linux implements smp_store_release on x86). The store is done in assembly (release_amd64.s)
// because a Go plain store to a variable others read atomically is a data
// race the compiler may reorder; a call to an assembly function is opaque to
// the compiler, so no memory access moves across it.
//
// Under -race the atomic.Store version (release.go) is built instead so that
// the detector sees the synchronisation; the race-enabled tests thus check the
// algorithm and the plain tests the instruction choice.
func storeRelease(p *atomic.Uint64, v uint64) {
	// atomic.Uint64 is a single uint64 (its other fields are zero-size).
	movStore((*uint64)(unsafe.Pointer(p)), v)
}

// movStore writes v to *p with one MOVQ. Implemented in release_amd64.s.
//
//go:noescape
func movStore(p *uint64, v uint64)
