package ring

import "sync/atomic"

// SPSC is a bounded single-producer, single-consumer FIFO ring of T.
//
// Exactly one goroutine at a time may call the producer methods (Enqueue,
// EnqueueBurst, EnqueueBulk) and exactly one the consumer methods (Dequeue,
// DequeueBurst, DequeueBulk); they may be two different goroutines running
// concurrently (a role may pass to another goroutine only through a
// happens-before edge, such as a mutex or a channel). Len and Cap may be
// called from anywhere. Every method is wait-free: it finishes in a bounded
// number of steps whatever the other side does, and none allocates.
//
// # Indices
//
// head and tail are free-running 64-bit positions, not slot numbers: slot =
// position & mask, the ring holds tail-head elements, it is empty when
// head == tail and full when tail-head == capacity. Unsigned subtraction keeps
// this true across the (theoretical) 2^64 wrap, and no slot is sacrificed to
// tell full from empty.
//
// # Memory ordering
//
// The element slots are plain memory; head and tail are the only shared
// variables that synchronise, and that is why they must be atomics (and their
// stores at least release stores):
//
//   - Producer: write buf[tail&mask], then publish tail+1. Consumer:
//     tail.Load() and, if it saw t, read buf[h&mask] for h < t. The publishing
//     store is synchronised-before the Load that observes it, so the slot
//     write happens-before the slot read: the consumer never sees a
//     half-written element. With a plain Go store the compiler could keep
//     tail in a register or move the store above the slot write, and a weakly
//     ordered CPU (arm64) could make the new tail visible before the slot.
//   - Consumer: read buf[head&mask] (and clear it), then publish head+1.
//     Producer: head.Load() and only then overwrite slots below head+capacity.
//     So the consumer's read happens-before the producer's next write of the
//     same slot (no write-after-read race).
//
// Loads are atomic.Load (a plain MOV on amd64). Stores go through
// storeRelease: atomic.Store everywhere except amd64, where Store would be an
// XCHG (a full barrier, and a stall whenever the peer is polling the line), so
// a plain MOV is used instead; release_unsafe.go gives the argument. Bursts
// and bulks publish once per call, not once per element.
//
// # Cached peer indices
//
// Reading the peer's index pulls the peer's cache line over. The producer
// therefore keeps headCache, a copy of head that can only be stale, i.e.
// too small (head never decreases), which underestimates free space and so is
// safe; it reloads head only when the cached value says "not enough room".
// The consumer does the same with tailCache. In steady state each side touches
// the other's line once per lap of the ring or per empty/full event, not per
// element.
type SPSC[T any] struct {
	_ pad
	// Producer's line: tail is written only by the producer (read by the
	// consumer and by Len); headCache is private to the producer.
	tail      atomic.Uint64
	headCache uint64
	_         pad
	// Consumer's line: head is written only by the consumer (read by the
	// producer and by Len); tailCache is private to the consumer.
	head      atomic.Uint64
	tailCache uint64
	_         pad
	// Read-only after construction: shared by both sides without bouncing.
	buf  []T
	mask uint64
	size uint64
	_    pad
}

// NewSPSC returns an empty SPSC ring holding up to capacity elements.
// capacity must be a power of two in [1, MaxCapacity]; otherwise the error
// wraps ErrCapacity. The ring's memory is allocated here and never again.
func NewSPSC[T any](capacity int) (*SPSC[T], error) {
	n, err := checkCapacity("new SPSC ring", capacity)
	if err != nil {
		return nil, err
	}
	return &SPSC[T]{buf: make([]T, n), mask: n - 1, size: n}, nil
}

// reset empties the ring and makes position p the next one to fill and
// read. Not safe for concurrent use; tests use it to start near the 64-bit
// wrap of the positions.
func (r *SPSC[T]) reset(p uint64) {
	r.tail.Store(p)
	r.head.Store(p)
	r.headCache, r.tailCache = p, p
	clear(r.buf)
}

// Cap returns the capacity of the ring.
func (r *SPSC[T]) Cap() int { return int(r.size) }

// Len returns the number of elements in the ring. While the other side is
// running it is a snapshot that may be out of date by the time it returns,
// but it is always within [0, Cap()].
func (r *SPSC[T]) Len() int {
	// head first: tail read afterwards is at least the head we read, so the
	// difference cannot underflow; it can exceed the capacity if both sides
	// moved in between, hence the clamp.
	h := r.head.Load()
	t := r.tail.Load()
	if n := t - h; n < r.size {
		return int(n)
	}
	return int(r.size)
}

// free returns how many slots the producer may fill without overwriting,
// reloading head only if the cached copy shows fewer than want.
func (r *SPSC[T]) free(t, want uint64) uint64 {
	f := r.size - (t - r.headCache)
	if f < want {
		r.headCache = r.head.Load()
		f = r.size - (t - r.headCache)
	}
	return f
}

// avail returns how many elements the consumer may read, reloading tail only
// if the cached copy shows fewer than want.
func (r *SPSC[T]) avail(h, want uint64) uint64 {
	a := r.tailCache - h
	if a < want {
		r.tailCache = r.tail.Load()
		a = r.tailCache - h
	}
	return a
}

// Enqueue appends v and reports whether there was room. Producer only.
func (r *SPSC[T]) Enqueue(v T) bool {
	t := r.tail.Load() // our own index: no other goroutine writes it
	if r.free(t, 1) == 0 {
		return false
	}
	r.buf[t&r.mask] = v
	storeRelease(&r.tail, t+1) // publish: the slot write is visible first (see type doc)
	return true
}

// EnqueueBurst appends as many leading elements of vs as fit and returns how
// many it appended (0 if the ring is full or vs is empty). Producer only.
func (r *SPSC[T]) EnqueueBurst(vs []T) int {
	t := r.tail.Load()
	n := min(uint64(len(vs)), r.free(t, uint64(len(vs))))
	if n == 0 {
		return 0
	}
	r.put(t, vs[:n])
	storeRelease(&r.tail, t+n)
	return int(n)
}

// EnqueueBulk appends all of vs if they fit and returns len(vs), or appends
// nothing and returns 0. Producer only.
func (r *SPSC[T]) EnqueueBulk(vs []T) int {
	t := r.tail.Load()
	n := uint64(len(vs))
	if n == 0 || r.free(t, n) < n {
		return 0
	}
	r.put(t, vs)
	storeRelease(&r.tail, t+n)
	return int(n)
}

// put copies vs into the slots starting at position t, wrapping once at the
// end of buf. The caller has checked that they are free.
func (r *SPSC[T]) put(t uint64, vs []T) {
	k := copy(r.buf[t&r.mask:], vs)
	copy(r.buf, vs[k:])
}

// Dequeue removes and returns the oldest element; ok is false if the ring is
// empty. Consumer only.
func (r *SPSC[T]) Dequeue() (v T, ok bool) {
	h := r.head.Load() // our own index
	if r.avail(h, 1) == 0 {
		return v, false
	}
	i := h & r.mask
	v = r.buf[i]
	var zero T
	r.buf[i] = zero            // drop references so the ring keeps nothing alive
	storeRelease(&r.head, h+1) // hand the slot back: the read is done first
	return v, true
}

// DequeueBurst moves up to len(out) of the oldest elements into out, oldest
// first, and returns how many it moved (0 if the ring is empty). Consumer
// only.
func (r *SPSC[T]) DequeueBurst(out []T) int {
	h := r.head.Load()
	n := min(uint64(len(out)), r.avail(h, uint64(len(out))))
	if n == 0 {
		return 0
	}
	r.take(h, out[:n])
	storeRelease(&r.head, h+n)
	return int(n)
}

// DequeueBulk fills all of out with the oldest elements and returns len(out)
// if that many are present, or moves nothing and returns 0. Consumer only.
func (r *SPSC[T]) DequeueBulk(out []T) int {
	h := r.head.Load()
	n := uint64(len(out))
	if n == 0 || r.avail(h, n) < n {
		return 0
	}
	r.take(h, out)
	storeRelease(&r.head, h+n)
	return int(n)
}

// take moves len(out) elements starting at position h into out and clears
// their slots. The caller has checked that they are present.
func (r *SPSC[T]) take(h uint64, out []T) {
	i := h & r.mask
	k := copy(out, r.buf[i:])
	clear(r.buf[i : i+uint64(k)])
	if k < len(out) {
		m := copy(out[k:], r.buf)
		clear(r.buf[:m])
	}
}
