package ring

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestMPSCSlotWords(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  uint64
		want uint64
	}{
		{"empty lap 0", slotEmpty(0), 0},
		{"empty lap 1", slotEmpty(1), 1 << 33},
		{"full lap 1 value 7", slotFullOf(1, 7), 1<<33 | 1<<32 | 7},
		{"tag keeps 31 bits", slotEmpty(1<<31 + 5), slotEmpty(5)},
		{"lap -1 is tag 2^31-1", slotEmpty(^uint64(0)), (1<<31 - 1) << 33},
		{"value all ones", slotFullOf(0, ^uint32(0)), 1<<32 | 0xffffffff},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	if !isFull(slotFullOf(3, 9), 3) || isFull(slotFullOf(3, 9), 4) || isFull(slotEmpty(3), 3) {
		t.Error("isFull confuses laps or the full bit")
	}
}

// TestMPSCFullEmpty walks the ring through empty, full and back, across the
// 64-bit wrap and the 31-bit lap-tag wrap, with int32 handles to cover the
// sign bit.
func TestMPSCFullEmpty(t *testing.T) {
	r, err := NewMPSC[int32](4)
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range []uint64{0, 1<<64 - 6, (1<<31)<<r.shift - 3} {
		r.reset(start)
		if _, ok := r.Dequeue(); ok {
			t.Fatal("Dequeue on an empty ring succeeded")
		}
		if n := r.EnqueueBurst([]int32{-1, -2, -3}); n != 3 {
			t.Fatalf("start %#x: EnqueueBurst(3) = %d", start, n)
		}
		if !r.Enqueue(-4) || r.Enqueue(-5) || r.Len() != 4 {
			t.Fatalf("start %#x: fourth Enqueue failed or fifth succeeded (Len %d)", start, r.Len())
		}
		if n := r.EnqueueBurst([]int32{-5}); n != 0 {
			t.Fatalf("EnqueueBurst on full ring = %d", n)
		}
		if v, ok := r.Dequeue(); !ok || v != -1 {
			t.Fatalf("Dequeue = %d, %v; want -1", v, ok)
		}
		if n := r.EnqueueBurst([]int32{-5, -6}); n != 1 {
			t.Fatalf("EnqueueBurst(2) with 1 free = %d", n)
		}
		out := make([]int32, 8)
		if n := r.DequeueBurst(out); n != 4 || out[0] != -2 || out[3] != -5 {
			t.Fatalf("DequeueBurst = %v, want [-2 -3 -4 -5]", out[:n])
		}
		if r.Len() != 0 || r.DequeueBurst(out) != 0 {
			t.Fatal("ring not empty at the end")
		}
	}
}

// TestMPSCSuspendedProducer is the lock-freedom argument as a test: a
// producer that stops anywhere inside Enqueue blocks neither the other
// producers nor the consumer.
func TestMPSCSuspendedProducer(t *testing.T) {
	r, err := NewMPSC[uint32](4)
	if err != nil {
		t.Fatal(err)
	}
	// A stops after its slot CAS, before moving tail.
	if !enqueueNoAdvance(r, 100) {
		t.Fatal("enqueueNoAdvance failed on an empty ring")
	}
	if r.tail.Load() != 0 {
		t.Fatal("tail moved")
	}
	// B is not held up: it helps tail past A's slot and fills the next one.
	if !r.Enqueue(200) {
		t.Fatal("Enqueue behind a suspended producer failed")
	}
	// C read tail (now 2) and stops before even loading its slot.
	stalled := r.tail.Load()
	// Meanwhile the ring goes round several laps.
	for i := range uint32(10) {
		if !r.Enqueue(300 + i) {
			t.Fatalf("Enqueue %d failed", i)
		}
		if i == 0 {
			expectDequeue(t, r, 100, 200)
		}
		expectDequeue(t, r, 300+i)
	}
	// C wakes up: its position is long gone; it must not write into it.
	if got := r.try(stalled, 999); got != taken && got != stale {
		t.Fatalf("try at old position %d (tail %d) = %d, want taken or stale", stalled, r.tail.Load(), got)
	}
	if _, ok := r.Dequeue(); ok {
		t.Fatal("the woken producer's element appeared in the ring")
	}
	// ... and its retry lands at the current end.
	if !r.Enqueue(999) {
		t.Fatal("retry failed")
	}
	expectDequeue(t, r, 999)
}

func expectDequeue(t *testing.T, r *MPSC[uint32], want ...uint32) {
	t.Helper()
	for _, w := range want {
		if v, ok := r.Dequeue(); !ok || v != w {
			t.Fatalf("Dequeue = %d, %v; want %d", v, ok, w)
		}
	}
}

// TestMPSCConcurrent: several producers, each with its own increasing
// sequence, and one consumer; per producer, every number arrives exactly
// once and in order. More producers than CPUs, so producers are preempted
// between their slot CAS and their tail CAS and others must help.
func TestMPSCConcurrent(t *testing.T) {
	const producers = 4
	const idShift = 28 // value = id<<28 | sequence
	per := transferCount() / producers
	r, err := NewMPSC[uint32](256)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		stop atomic.Bool
	)
	defer wg.Wait()
	defer stop.Store(true)
	for id := range uint32(producers) {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(id), 5))
			buf := make([]uint32, 40)
			for next := 0; next < per; {
				k := min(1+rng.IntN(len(buf)), per-next)
				for j := range buf[:k] {
					buf[j] = id<<idShift | uint32(next+j)
				}
				var m int
				if rng.IntN(2) == 0 {
					m = b2i(r.Enqueue(buf[0]))
				} else {
					m = r.EnqueueBurst(buf[:k])
				}
				next += m
				if m == 0 {
					if stop.Load() {
						return
					}
					runtime.Gosched()
				}
			}
		})
	}
	var nextSeq [producers]uint32
	rng := rand.New(rand.NewPCG(7, 8))
	buf := make([]uint32, 48)
	for got := 0; got < per*producers; {
		var m int
		if rng.IntN(2) == 0 {
			var ok bool
			buf[0], ok = r.Dequeue()
			m = b2i(ok)
		} else {
			m = r.DequeueBurst(buf[:1+rng.IntN(len(buf))])
		}
		for _, v := range buf[:m] {
			id, seq := v>>idShift, v&(1<<idShift-1)
			if id >= producers || seq != nextSeq[id] {
				t.Fatalf("after %d elements: got producer %d sequence %d, want sequence %d", got, id, seq, nextSeq[min(id, producers-1)])
			}
			nextSeq[id]++
		}
		got += m
		if m == 0 {
			runtime.Gosched()
		}
	}
	wg.Wait()
	if v, ok := r.Dequeue(); ok {
		t.Fatalf("extra element %#x", v)
	}
	for id, n := range nextSeq {
		if int(n) != per {
			t.Errorf("producer %d: %d elements arrived, want %d", id, n, per)
		}
	}
}
