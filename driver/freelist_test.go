package driver_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver"
)

func TestFreeList(t *testing.T) {
	l := driver.NewFreeList(3)
	for want := uint32(0); want < 3; want++ {
		if b, ok := l.Get(); !ok || b != want {
			t.Fatalf("Get = %d, %v; want %d, true (lowest index first)", b, ok, want)
		}
	}
	if b, ok := l.Get(); ok || b != driver.NoBuf {
		t.Fatalf("Get from an empty list = %d, %v; want NoBuf, false", b, ok)
	}
	l.PutMany([]uint32{2, 0})
	out := make([]uint32, 5)
	if n := l.GetMany(out); n != 2 || l.Available() != 0 {
		t.Fatalf("GetMany = %d (Available %d), want 2 (0)", n, l.Available())
	}
	for _, bad := range []struct {
		name string
		put  func()
	}{
		{"out of range", func() { l.Put(3) }},
		{"double free", func() { l.Put(1); l.Put(1) }},
		{"double free in a batch", func() { l.PutMany([]uint32{0, 0}) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", bad.name)
				}
			}()
			bad.put()
		}()
	}
}

func TestFreeListAllocatesNothing(t *testing.T) {
	l := driver.NewFreeList(64)
	bufs := make([]uint32, 32)
	if a := testing.AllocsPerRun(100, func() {
		b, _ := l.Get()
		l.Put(b)
		n := l.GetMany(bufs)
		l.PutMany(bufs[:n])
	}); a != 0 {
		t.Fatalf("%.1f allocations per round, want 0", a)
	}
}
