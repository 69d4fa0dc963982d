package main

import (
	"testing"
	"time"
)

// TestTrafficCheck: the lab's host side counts a reflected frame intact
// once, and an altered, unsent or unreflected one as altered.
func TestTrafficCheck(t *testing.T) {
	tr := newTraffic(nil, 128)
	tr.sent.Store(2)
	reflect := func(seq uint32, alter func([]byte)) []byte {
		f := tr.frame(make([]byte, 2048), seq, 1000)
		copy(f[0:6], labPeerMAC[:])
		copy(f[6:12], labMAC[:])
		if alter != nil {
			alter(f)
		}
		return f
	}
	now := tr.start.Add(time.Millisecond)
	tr.check(reflect(0, nil), now)
	tr.check(reflect(0, nil), now) // again
	tr.check(reflect(1, func(f []byte) { f[100] ^= 0x20 }), now)
	tr.check(reflect(1, func(f []byte) { f[0] ^= 1 }), now)
	tr.check(tr.frame(make([]byte, 2048), 1, 1000), now) // MACs not swapped
	tr.check(reflect(5, nil), now)                       // never sent
	tr.check(reflect(1, nil)[:127], now)                 // truncated
	if tr.intact.Load() != 1 || tr.dup.Load() != 1 || tr.corrupt.Load() != 5 || tr.recv.Load() != 7 {
		t.Fatalf("intact %d dup %d corrupt %d recv %d; want 1, 1, 5, 7",
			tr.intact.Load(), tr.dup.Load(), tr.corrupt.Load(), tr.recv.Load())
	}
	if got := time.Duration(tr.rtt.Max()); got <= 0 || got > time.Millisecond {
		t.Fatalf("round trip %v, want about 1 ms", got)
	}
}
