package ring

import (
	"slices"
	"testing"
)

// fuzzStart decodes where the ring's free-running positions start, so that
// the fuzzer reaches the 64-bit wrap and other far positions with short
// inputs.
func fuzzStart(sel, off byte, shift uint) uint64 {
	switch sel % 4 {
	case 1: // just below the 64-bit wrap
		return -uint64(off) - 1
	case 2: // just below lap 2^31
		return (uint64(1)<<31)<<shift - uint64(off) - 1
	case 3: // an arbitrary odd spot
		return uint64(off) * 0x9e3779b97f4a7c15
	}
	return 0
}

// FuzzSPSC runs a sequence of operations decoded from the input on an SPSC
// ring and on refQueue and requires identical results: values and their
// order, counts, full and empty, Len.
//
// Input: byte 0 picks the capacity (1 to 64), bytes 1-2 the start position,
// then each byte is one operation: low 3 bits the kind, high 5 bits a length.
func FuzzSPSC(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 0, 1, 1, 1})
	f.Add([]byte{2, 1, 2, 0x20 | 2, 0x38 | 3, 0x18 | 4, 0x10 | 5, 0x28 | 5, 0xf8 | 2, 1})
	f.Add([]byte{0, 1, 0, 0, 0, 1, 1, 2 | 0x10, 3 | 0x10, 4 | 8, 5 | 8, 6})
	f.Add([]byte{6, 2, 7, 0xfa, 0xfa, 0xfb, 0xfc, 0xfd, 0xfb, 0xfd, 7, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		capacity := 1 << (data[0] % 7)
		r, err := NewSPSC[uint64](capacity)
		if err != nil {
			t.Fatal(err)
		}
		r.reset(fuzzStart(data[1], data[2], uint(data[0]%7)))
		ref := refQueue[uint64]{cap: capacity}
		var next uint64 // next value to enqueue: values are distinct
		in := make([]uint64, 32)
		got, want := make([]uint64, 32), make([]uint64, 32)
		for i, b := range data[3:] {
			n := int(b >> 3)
			for j := range in[:n] {
				in[j] = next + uint64(j)
			}
			var g, w int
			switch b & 7 {
			case 0, 6:
				ok := r.Enqueue(next)
				g, w = b2i(ok), ref.push([]uint64{next}, false)
			case 1, 7:
				v, ok := r.Dequeue()
				g, w = b2i(ok), ref.pop(want[:1], false)
				got[0] = v
				if !ok && v != 0 {
					t.Fatalf("op %d: Dequeue on empty returned %d, want zero value", i, v)
				}
			case 2:
				g, w = r.EnqueueBurst(in[:n]), ref.push(in[:n], false)
			case 3:
				g, w = r.DequeueBurst(got[:n]), ref.pop(want[:n], false)
			case 4:
				g, w = r.EnqueueBulk(in[:n]), ref.push(in[:n], true)
			case 5:
				g, w = r.DequeueBulk(got[:n]), ref.pop(want[:n], true)
			}
			if g != w {
				t.Fatalf("op %d (%#x): ring moved %d, reference %d", i, b, g, w)
			}
			if b&1 == 1 && !slices.Equal(got[:g], want[:w]) {
				t.Fatalf("op %d (%#x): ring gave %v, reference %v", i, b, got[:g], want[:w])
			}
			if b&1 == 0 {
				next += uint64(g)
			}
			if r.Len() != len(ref.q) || r.Cap() != capacity {
				t.Fatalf("op %d (%#x): Len/Cap %d/%d, reference %d/%d", i, b, r.Len(), r.Cap(), len(ref.q), capacity)
			}
		}
		// Whatever is left comes out in order, then the ring is empty.
		rest := make([]uint64, capacity+1)
		if n := r.DequeueBurst(rest); !slices.Equal(rest[:n], ref.q) {
			t.Fatalf("drain: ring gave %v, reference %v", rest[:n], ref.q)
		}
		if _, ok := r.Dequeue(); ok || r.Len() != 0 {
			t.Fatalf("ring not empty after drain (Len %d)", r.Len())
		}
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
