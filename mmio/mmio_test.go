package mmio

import (
	"errors"
	"testing"
	"time"
)

func TestBARReadWrite(t *testing.T) {
	mem := make([]byte, 64)
	b := NewBAR(mem)
	b.Write32(8, 0xdeadbeef)
	if mem[8] != 0xef || mem[11] != 0xde {
		t.Fatalf("Write32 not little-endian at offset 8: % x", mem[8:12])
	}
	if got := b.Read32(8); got != 0xdeadbeef {
		t.Fatalf("Read32 = %#x", got)
	}
	SetBits(b, 8, 0x10)
	ClearBits(b, 8, 0xef)
	if got := b.Read32(8); got != 0xdeadbe10 {
		t.Fatalf("after Set/ClearBits = %#x, want 0xdeadbe10", got)
	}
}

func TestBAROutOfRangePanics(t *testing.T) {
	b := NewBAR(make([]byte, 16))
	for _, off := range []uint32{16, 14, 2} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("offset %#x did not panic", off)
				}
			}()
			b.Read32(off)
		}()
	}
}

type countingRegs struct {
	reads int
	v     uint32
}

func (c *countingRegs) Read32(uint32) uint32 {
	c.reads++
	if c.reads >= 3 {
		return c.v
	}
	return 0
}
func (c *countingRegs) Write32(uint32, uint32) {}

func TestWaitBits(t *testing.T) {
	r := &countingRegs{v: 0x2}
	if err := WaitBits(r, 0, 0x2, 0x2, time.Second); err != nil {
		t.Fatal(err)
	}
	if r.reads != 3 {
		t.Fatalf("reads = %d, want 3", r.reads)
	}
	r = &countingRegs{v: 0}
	err := WaitBits(r, 0x8, 0x2, 0x2, 20*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}
