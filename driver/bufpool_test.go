package driver_test

import (
	"errors"
	"testing"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
)

func TestBufPool(t *testing.T) {
	alloc := drivertest.NewMemAllocator()
	const n = 1500 // two chunks
	p, err := driver.NewBufPool(alloc, n)
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != n || p.Available() != n || alloc.Open() != 2 {
		t.Fatalf("Len %d Available %d regions %d, want %d %d 2", p.Len(), p.Available(), alloc.Open(), n, n)
	}
	seen := map[uint64]bool{}
	for b := uint32(0); b < n; b++ {
		a := p.Addr(b)
		if seen[a] {
			t.Fatalf("buffer %d shares address %#x", b, a)
		}
		seen[a] = true
		// The device's view and the CPU's view are the same memory.
		p.Packet(b, 4)[0] = byte(b)
		if m := alloc.Mem(a, driver.BufSize); m == nil || m[0] != byte(b) {
			t.Fatalf("buffer %d: device address %#x does not reach its bytes", b, a)
		}
	}
	if got := len(p.Packet(0, driver.BufSize+100)); got != driver.BufSize {
		t.Fatalf("Packet clamps to %d bytes, got %d", driver.BufSize, got)
	}
	bufs := make([]uint32, n+10)
	if got := p.GetMany(bufs); got != n || p.Available() != 0 {
		t.Fatalf("GetMany got %d, Available %d", got, p.Available())
	}
	if _, ok := p.Get(); ok {
		t.Fatal("Get from an empty pool succeeded")
	}
	p.PutMany(bufs[:n])
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("a double free did not panic")
			}
		}()
		p.Put(bufs[0])
	}()
	if err := p.Close(); err != nil || alloc.Open() != 0 {
		t.Fatalf("Close: %v, %d regions open", err, alloc.Open())
	}
}

type failAfter struct {
	dma.Allocator
	left int
}

func (f *failAfter) Alloc(size int) (*dma.Region, error) {
	if f.left == 0 {
		return nil, errors.New("out of DMA memory")
	}
	f.left--
	return f.Allocator.Alloc(size)
}

// A pool that cannot be allocated whole leaves nothing allocated.
func TestBufPoolAllocFailureReleases(t *testing.T) {
	alloc := drivertest.NewMemAllocator()
	if _, err := driver.NewBufPool(&failAfter{alloc, 1}, 3000); err == nil {
		t.Fatal("NewBufPool succeeded with a failing allocator")
	}
	if n := alloc.Open(); n != 0 {
		t.Fatalf("%d regions left allocated after a failed NewBufPool", n)
	}
	for _, n := range []int{0, -1, 1<<20 + 1} {
		if _, err := driver.NewBufPool(alloc, n); !errors.Is(err, driver.ErrPool) {
			t.Errorf("NewBufPool(%d): %v, want ErrPool", n, err)
		}
	}
}

func TestBufPoolAllocatesNothing(t *testing.T) {
	p, err := driver.NewBufPool(drivertest.NewMemAllocator(), 64)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	bufs := make([]uint32, 32)
	if a := testing.AllocsPerRun(100, func() {
		k := p.GetMany(bufs)
		p.Packet(bufs[0], 60)
		p.PutMany(bufs[:k])
	}); a != 0 {
		t.Fatalf("%v allocations per round", a)
	}
}
