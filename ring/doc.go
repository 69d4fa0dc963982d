// Package ring provides the lock-free ring that connects the top half of a
// uiodrv driver to its bottom half.
//
// SPSC is the descriptor ring: the top half (the goroutine woken by the
// NIC's interrupt) copies completed RX descriptors into it and the bottom half
// drains them. It has one producer and one consumer, a power-of-two capacity,
// and single, burst (as many as fit or are present) and bulk (all or nothing)
// operations that return counts. It keeps a cached copy of the peer's index
// and pads each side's fields onto their own cache lines, so that in steady
// state the two CPUs exchange only the descriptor lines and one index line per
// burst.
//
// The ring never allocates after construction, blocks or sleeps: an operation
// that cannot proceed returns false or 0 and the caller decides whether to
// spin, yield, drop or wait for an interrupt. The memory-ordering argument is
// written on the type.
//
// # Performance
//
// Bursts are what the ring is for: one cache-line handoff between the CPUs
// moves a whole burst, where a channel pays a lock per element. The ring
// spin-polls: give its ends CPUs of their own, or it loses to a channel,
// which sleeps. BENCH.md in this directory holds the measurements against a
// buffered channel, and how to rerun them.
package ring
