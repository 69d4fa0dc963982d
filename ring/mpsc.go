package ring

import "sync/atomic"

// Handle is the element type of an MPSC ring: a 32-bit buffer index or ID.
// It is small enough to be published together with its slot's lap tag by a
// single 64-bit compare-and-swap, which is what makes MPSC lock-free.
type Handle interface{ ~uint32 | ~int32 }

// MPSC is a bounded multi-producer, single-consumer FIFO ring of 32-bit
// handles, meant for returning packet buffers (by index) from several
// bottom-half workers to the one goroutine that owns the buffer pool.
//
// Any number of goroutines may call Enqueue and EnqueueBurst concurrently;
// exactly one goroutine at a time may call Dequeue and DequeueBurst. Len and
// Cap may be called from anywhere. Nothing allocates after NewMPSC.
//
// # Progress
//
// Enqueue and EnqueueBurst are lock-free: a producer goes round its loop
// again only when the slot at the tail it read was filled by another producer
// (whose Enqueue thereby succeeded; the loser helps move tail past it) or when
// tail has moved on since it read it, so some operation always completes.
// Helping is bounded too: tail only moves over filled positions.
// Dequeue and DequeueBurst are wait-free (a bounded number of steps, no
// retries). A producer suspended at any instruction (preempted, descheduled
// VM vCPU, SIGSTOP) delays no one: publishing is a single CAS on the slot, so
// there is no "claimed but not yet written" slot for the consumer or other
// producers to wait behind, and the tail is only a hint that anyone may move
// forward. This is the difference from DPDK's rte_ring and Vyukov's bounded
// queue, which reserve a slot first and fill it later; it is also why there is
// no all-or-nothing EnqueueBulk here: reserving room for a bulk is exactly that
// window.
//
// # Slots
//
// Each slot is one atomic 64-bit word: a 31-bit lap tag, a full bit and the
// 32-bit value. Position p (free-running, 64-bit) lives in slot p&mask and
// belongs to lap p>>log2(capacity). For position p of lap L its slot reads:
//
//	empty(L)    free: the slot of p-capacity was consumed, p is not yet filled
//	full(L, v)  p holds v
//	empty(L+1)  p was filled and has been consumed
//	full(L-1,…) p-capacity has not been consumed yet: the ring is full
//
// A producer fills p with CAS(empty(L) -> full(L, v)); the consumer takes p
// by reading full(L, v) and storing empty(L+1). Because the tag says which lap
// a state belongs to, a producer that read an old tail can never overwrite a
// newer lap, and the slot CAS alone decides which producer gets a position:
// no element is lost or written twice.
//
// Invariant: every position below tail has been filled. tail moves only by
// CAS and only over positions seen filled, so it is a lower bound of the fill
// frontier that any producer may help forward.
//
// Tags are 31 bits, so a tag repeats after 2^31 laps. A producer that reads
// a slot and is then suspended for exactly a multiple of 2^31 laps before its
// CAS could be fooled; at capacity 1024 and 10^8 elements/s that is over six
// hours inside one call, which we accept, as every bounded-tag ring does.
//
// # Memory ordering
//
// The value travels inside the atomic word, so there is no plain memory to
// order. Producers race on the same slot and tail words, and the consumer
// polls words that producers write, so every access is atomic: producers use
// CompareAndSwap; the consumer, the only writer of a full slot, frees it with
// storeRelease (atomic.Store, or on amd64 a plain MOV: an aligned 8-byte store
// is single-copy atomic there and is not reordered before the load of the
// value it frees; no later access of the consumer needs to wait for it, so
// the full barrier of atomic.Store buys nothing).
type MPSC[T Handle] struct {
	_ pad
	// tail is the producers' shared hint (CAS by any producer).
	tail atomic.Uint64
	_    pad
	// head is written only by the consumer; producers never read it (the slot
	// tags tell them whether there is room), only Len does.
	head atomic.Uint64
	_    pad
	// Read-only after construction.
	slots []atomic.Uint64
	mask  uint64
	shift uint // log2(capacity): lap of position p is p >> shift
	_     pad
}

// NewMPSC returns an empty MPSC ring holding up to capacity handles.
// capacity must be a power of two in [1, MaxCapacity]; otherwise the error
// wraps ErrCapacity.
func NewMPSC[T Handle](capacity int) (*MPSC[T], error) {
	n, err := checkCapacity("new MPSC ring", capacity)
	if err != nil {
		return nil, err
	}
	r := &MPSC[T]{slots: make([]atomic.Uint64, n), mask: n - 1}
	for n>>r.shift > 1 {
		r.shift++
	}
	r.reset(0)
	return r, nil
}

// reset empties the ring and makes position p the next one to fill and
// read. Not safe for concurrent use; tests use it to start near the lap-tag
// and 64-bit wraps.
func (r *MPSC[T]) reset(p uint64) {
	r.tail.Store(p)
	r.head.Store(p)
	for i := range uint64(len(r.slots)) {
		q := p + i
		r.slots[q&r.mask].Store(slotEmpty(r.lap(q)))
	}
}

// Slot words: tag<<33 | full<<32 | value. The tag is the lap truncated to 31
// bits; computing it as uint32(lap<<1) truncates for us, and the truncation is
// consistent across the 2^64 wrap because 2^(64-shift) is a multiple of 2^31.
const slotFull = 1 << 32

func (r *MPSC[T]) lap(p uint64) uint64 { return p >> r.shift }

func slotEmpty(lap uint64) uint64            { return uint64(uint32(lap<<1)) << 32 }
func slotFullOf(lap uint64, v uint32) uint64 { return slotEmpty(lap) | slotFull | uint64(v) }
func isFull(w, lap uint64) bool              { return w>>32 == slotFullOf(lap, 0)>>32 }

// Outcome of one attempt to fill a position.
type fill uint8

const (
	filled fill = iota // we filled it
	taken              // someone else filled it: tail may be helped past it
	noRoom             // the ring is full
	stale              // the slot is in a later lap, so tail is past t: reload
)

// try attempts to put v at position t.
func (r *MPSC[T]) try(t uint64, v uint32) fill {
	s := &r.slots[t&r.mask]
	lap := r.lap(t)
	w := s.Load()
	switch {
	case w == slotEmpty(lap):
		if s.CompareAndSwap(w, slotFullOf(lap, v)) {
			return filled
		}
		// The only way out of empty(lap) is a fill of t: another producer
		// won it.
		return taken
	case isFull(w, lap), w == slotEmpty(lap+1):
		return taken
	case isFull(w, lap-1):
		// t-capacity is still unconsumed, and every position in between is
		// filled (they are below the tail we read): capacity elements are
		// present at the moment of the Load.
		return noRoom
	}
	return stale
}

// advance moves tail forward to at least to, which the caller knows is
// filled below to.
func (r *MPSC[T]) advance(to uint64) {
	for {
		cur := r.tail.Load()
		if int64(to-cur) <= 0 || r.tail.CompareAndSwap(cur, to) {
			return
		}
	}
}

// Cap returns the capacity of the ring.
func (r *MPSC[T]) Cap() int { return len(r.slots) }

// Len returns an estimate of the number of handles in the ring: tail is a
// hint that may lag behind elements already published, so it can be low
// while producers are running. It is always within [0, Cap()].
func (r *MPSC[T]) Len() int {
	t := r.tail.Load()
	h := r.head.Load()
	n := int64(t - h)
	if n < 0 {
		return 0
	}
	return int(min(n, int64(len(r.slots))))
}

// Enqueue appends v and reports whether there was room. Safe for concurrent
// use by any number of producers.
func (r *MPSC[T]) Enqueue(v T) bool {
	for {
		t := r.tail.Load()
		switch r.try(t, uint32(v)) {
		case filled:
			r.tail.CompareAndSwap(t, t+1) // failure: someone helped already
			return true
		case taken:
			r.tail.CompareAndSwap(t, t+1) // help the filler
		case noRoom:
			return false
		}
	}
}

// EnqueueBurst appends as many leading elements of vs as fit and returns how
// many it appended. Elements of one burst keep their order but may be
// interleaved with other producers' elements. Safe for concurrent use by any
// number of producers.
func (r *MPSC[T]) EnqueueBurst(vs []T) int {
	n := 0
	t := r.tail.Load()
	for n < len(vs) {
		switch r.try(t, uint32(vs[n])) {
		case filled:
			// Go straight on to the next position and move tail once at the
			// end; until then others see our slots full and help past them.
			n++
			t++
			continue
		case taken:
			t++ // filled by someone: walk on without touching tail
			continue
		case noRoom:
		case stale:
			// A slot we read belongs to a later lap, so tail is past t
			// (it has passed all our fills too): reload and go on.
			t = r.tail.Load()
			continue
		}
		break
	}
	r.advance(t)
	return n
}

// Dequeue removes and returns the oldest handle; ok is false if the ring is
// empty. Consumer only.
func (r *MPSC[T]) Dequeue() (v T, ok bool) {
	h := r.head.Load() // our own index
	s := &r.slots[h&r.mask]
	lap := r.lap(h)
	w := s.Load()
	if !isFull(w, lap) {
		return v, false
	}
	storeRelease(s, slotEmpty(lap+1)) // frees the slot for position h+capacity
	storeRelease(&r.head, h+1)
	return T(uint32(w)), true
}

// DequeueBurst moves up to len(out) of the oldest handles into out, oldest
// first, and returns how many it moved. Consumer only.
func (r *MPSC[T]) DequeueBurst(out []T) int {
	h := r.head.Load()
	n := 0
	for ; n < len(out); n++ {
		p := h + uint64(n)
		s := &r.slots[p&r.mask]
		lap := r.lap(p)
		w := s.Load()
		if !isFull(w, lap) {
			break
		}
		out[n] = T(uint32(w))
		storeRelease(s, slotEmpty(lap+1))
	}
	if n > 0 {
		storeRelease(&r.head, h+uint64(n))
	}
	return n
}
