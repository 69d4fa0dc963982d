package mmio

import (
	"sync"
	"testing"
)

func TestCountingCountsAndPassesThrough(t *testing.T) {
	b := NewBAR(make([]byte, 64))
	c := NewCounting(b)
	c.Write32(4, 7)
	SetBits(c, 4, 0x10) // one read, one write
	if got := c.Read32(4); got != 0x17 {
		t.Fatalf("Read32 through Counting = %#x, want 0x17", got)
	}
	if got := b.Read32(4); got != 0x17 {
		t.Fatalf("underlying register = %#x, want 0x17: writes must reach the wrapped file", got)
	}
	a := c.Snapshot()
	if a.Reads != 2 || a.Writes != 2 || a.Total() != 4 {
		t.Fatalf("accesses = %+v, want 2 reads and 2 writes", a)
	}
	before := a
	c.Read32(0)
	d := c.Snapshot().Sub(before)
	if d.Reads != 1 || d.Writes != 0 {
		t.Fatalf("Sub = %+v, want one read", d)
	}
	if got := (Accesses{Reads: 1, Writes: 2}).PerFrame(6); got != 0.5 {
		t.Fatalf("PerFrame = %v, want 0.5", got)
	}
	if got := (Accesses{Reads: 1}).PerFrame(0); got != 0 {
		t.Fatalf("PerFrame(0) = %v, want 0", got)
	}
}

// The top half, the bottom half and a stats reader count concurrently.
func TestCountingConcurrent(t *testing.T) {
	// A register file without state: a BAR over plain memory would be a data
	// race of its own (real registers are the device's, not Go memory).
	c := NewCounting(nopRegs{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c.Write32(0, uint32(i))
				c.Read32(0)
			}
		}()
	}
	wg.Wait()
	if a := c.Snapshot(); a.Reads != 4000 || a.Writes != 4000 {
		t.Fatalf("accesses = %+v, want 4000 each", a)
	}
}

func TestCountingAllocatesNothing(t *testing.T) {
	c := NewCounting(NewBAR(make([]byte, 16)))
	var r Regs = c
	if n := testing.AllocsPerRun(100, func() { r.Write32(0, r.Read32(0)+1) }); n != 0 {
		t.Fatalf("%v allocations per access", n)
	}
}

type nopRegs struct{}

func (nopRegs) Read32(uint32) uint32   { return 0 }
func (nopRegs) Write32(uint32, uint32) {}
