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
