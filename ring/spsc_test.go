package ring

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestNewCapacity(t *testing.T) {
	above := MaxCapacity
	above <<= 1 // a power of two too large (negative where int has 32 bits)
	for _, tc := range []struct {
		capacity int
		ok       bool
	}{
		{-1, false}, {0, false}, {1, true}, {2, true}, {3, false}, {6, false},
		{1024, true}, {1000, false}, {MaxCapacity, true}, {above, false},
	} {
		if tc.capacity <= 1<<10 { // don't allocate MaxCapacity
			if _, err := NewSPSC[int](tc.capacity); (err == nil) != tc.ok {
				t.Errorf("NewSPSC(%d): error %v, want ok=%v", tc.capacity, err, tc.ok)
			}
		}
		_, err := checkCapacity("op", tc.capacity)
		if (err == nil) != tc.ok {
			t.Errorf("checkCapacity(%d): error %v, want ok=%v", tc.capacity, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrCapacity) {
			t.Errorf("checkCapacity(%d): %v does not wrap ErrCapacity", tc.capacity, err)
		}
	}
}

// TestSPSCFullEmpty walks one ring through empty, full and back, across the
// 64-bit wrap of its positions.
func TestSPSCFullEmpty(t *testing.T) {
	for _, start := range []uint64{0, 1<<64 - 3} {
		r, err := NewSPSC[int](4)
		if err != nil {
			t.Fatal(err)
		}
		r.reset(start)
		if _, ok := r.Dequeue(); ok {
			t.Fatal("Dequeue on a new ring succeeded")
		}
		for i := range 4 {
			if !r.Enqueue(i) {
				t.Fatalf("start %#x: Enqueue %d of 4 failed", start, i)
			}
		}
		if r.Enqueue(4) || r.Len() != 4 {
			t.Fatalf("start %#x: full ring took a fifth element (Len %d)", start, r.Len())
		}
		if n := r.EnqueueBurst([]int{9}); n != 0 {
			t.Fatalf("EnqueueBurst on full ring = %d", n)
		}
		out := make([]int, 8)
		if n := r.DequeueBulk(out[:5]); n != 0 {
			t.Fatalf("DequeueBulk(5) of 4 = %d, want 0", n)
		}
		if n := r.DequeueBurst(out[:3]); n != 3 || out[0] != 0 || out[2] != 2 {
			t.Fatalf("DequeueBurst(3) = %d %v", n, out[:n])
		}
		if n := r.EnqueueBulk([]int{4, 5, 6, 7}); n != 0 {
			t.Fatalf("EnqueueBulk(4) with 3 free = %d, want 0", n)
		}
		if n := r.EnqueueBulk([]int{4, 5, 6}); n != 3 {
			t.Fatalf("EnqueueBulk(3) with 3 free = %d, want 3", n)
		}
		if n := r.DequeueBurst(out); n != 4 || out[0] != 3 || out[3] != 6 {
			t.Fatalf("DequeueBurst(8) = %d %v, want [3 4 5 6]", n, out[:n])
		}
		if r.Len() != 0 || r.DequeueBurst(out) != 0 {
			t.Fatalf("ring not empty at the end")
		}
	}
}

// TestSPSCDropsReferences: dequeued slots must not keep pointers alive.
func TestSPSCDropsReferences(t *testing.T) {
	r, err := NewSPSC[*int](4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r.Enqueue(&i)
	}
	r.Dequeue()
	r.DequeueBurst(make([]*int, 2))
	for i, p := range r.buf {
		if p != nil {
			t.Errorf("slot %d still holds a pointer after Dequeue", i)
		}
	}
}

// seqElem carries a sequence number twice so that a torn (half-written) slot
// read would show.
type seqElem struct {
	Seq, Inv uint64
}

// transferCount is how many elements the concurrency tests move.
func transferCount() int {
	if testing.Short() || raceEnabled {
		return 1_000_000
	}
	return 10_000_000
}

// TestSPSCConcurrent: one producer and one consumer move transferCount()
// sequence-numbered elements with a random mix of single, burst and bulk
// operations; the consumer sees every number exactly once, in order.
func TestSPSCConcurrent(t *testing.T) {
	n := transferCount()
	r, err := NewSPSC[seqElem](256)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		stop atomic.Bool // set by a side that failed, so the other one ends too
	)
	defer wg.Wait()
	defer stop.Store(true)
	wg.Go(func() { // producer
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]seqElem, 48)
		for next := 0; next < n; {
			k := min(1+rng.IntN(len(buf)), n-next)
			for j := range buf[:k] {
				s := uint64(next + j)
				buf[j] = seqElem{s, ^s}
			}
			var m int
			switch rng.IntN(3) {
			case 0:
				m = b2i(r.Enqueue(buf[0]))
			case 1:
				m = r.EnqueueBurst(buf[:k])
			case 2:
				m = r.EnqueueBulk(buf[:k])
				if m != 0 && m != k {
					t.Errorf("EnqueueBulk(%d) = %d", k, m)
					stop.Store(true)
				}
			}
			next += m
			if m == 0 {
				if stop.Load() {
					return
				}
				runtime.Gosched() // 2 CPUs, and -race: don't starve the consumer
			}
		}
	})
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]seqElem, 48)
	for next := 0; next < n; {
		k := 1 + rng.IntN(len(buf))
		var m int
		switch rng.IntN(3) {
		case 0:
			var ok bool
			buf[0], ok = r.Dequeue()
			m = b2i(ok)
		case 1:
			m = r.DequeueBurst(buf[:k])
		case 2:
			m = r.DequeueBulk(buf[:k])
			if m != 0 && m != k {
				t.Fatalf("DequeueBulk(%d) = %d", k, m)
			}
		}
		for j, e := range buf[:m] {
			if want := uint64(next + j); e.Seq != want || e.Inv != ^want {
				t.Fatalf("element %d: got {%d %#x}, want sequence %d", next+j, e.Seq, e.Inv, want)
			}
		}
		next += m
		if m == 0 {
			if stop.Load() {
				t.FailNow()
			}
			runtime.Gosched()
		}
	}
	wg.Wait()
	if _, ok := r.Dequeue(); ok || r.Len() != 0 {
		t.Fatalf("extra element after %d (Len %d)", n, r.Len())
	}
}
