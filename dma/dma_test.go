package dma

import (
	"errors"
	"testing"
)

func TestRegionCloseIdempotent(t *testing.T) {
	calls := 0
	want := errors.New("unmap failed")
	r := NewRegion(make([]byte, 4096), 0x10000, func() error { calls++; return want })
	if got := r.AddrOf(100); got != 0x10064 {
		t.Fatalf("AddrOf(100) = %#x, want 0x10064", got)
	}
	if got := len(r.Sub(8, 16)); got != 16 {
		t.Fatalf("Sub len = %d", got)
	}
	for i := 0; i < 3; i++ {
		if err := r.Close(); !errors.Is(err, want) {
			t.Fatalf("Close #%d = %v, want %v", i, err, want)
		}
	}
	if calls != 1 {
		t.Fatalf("release called %d times, want 1", calls)
	}
	if r.Bytes() != nil {
		t.Fatal("Bytes after Close is not nil")
	}
}

func TestAddrOfOutOfRangePanics(t *testing.T) {
	r := NewRegion(make([]byte, 64), 0, nil)
	defer func() {
		if recover() == nil {
			t.Fatal("AddrOf(65) did not panic")
		}
	}()
	r.AddrOf(65)
}

func TestSegmentedRegion(t *testing.T) {
	const seg = 4096
	// Three segments in descending device-address order, as hugepages come.
	r := NewSegmentedRegion(make([]byte, 3*seg-100), seg, []uint64{0x30000, 0x20000, 0x10000}, nil)
	if r.Contiguous() || r.Segment() != seg || r.Addr() != 0x30000 {
		t.Fatalf("contiguous %v segment %d addr %#x", r.Contiguous(), r.Segment(), r.Addr())
	}
	for _, tc := range []struct {
		off  int
		want uint64
	}{{0, 0x30000}, {seg - 1, 0x30fff}, {seg, 0x20000}, {2*seg + 5, 0x10005}, {3*seg - 100, 0x10000 + seg - 100}} {
		if got := r.AddrOf(tc.off); got != tc.want {
			t.Errorf("AddrOf(%#x) = %#x, want %#x", tc.off, got, tc.want)
		}
	}
	if a := testing.AllocsPerRun(100, func() { r.AddrOf(seg + 7) }); a != 0 {
		t.Errorf("AddrOf allocates %.0f times", a)
	}
	c := NewSegmentedRegion(make([]byte, seg), seg, []uint64{0x5000}, nil)
	if !c.Contiguous() || c.Segment() != seg || c.AddrOf(10) != 0x500a {
		t.Errorf("one segment: contiguous %v segment %d", c.Contiguous(), c.Segment())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("too few segments did not panic")
		}
	}()
	NewSegmentedRegion(make([]byte, 2*seg+1), seg, []uint64{1, 2}, nil)
}
