package e1000test

import (
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/dma"
)

// BaseAddr is the first fake device address an Allocator hands out. It is
// above 4 GiB so the high halves of base address registers are exercised.
const BaseAddr = 0x1_2340_0000

// Allocator is a dma.Allocator over ordinary Go memory with made-up device
// addresses, for unit tests. It remembers every region so a fake device can
// translate device addresses (Mem) and a test can check that all regions
// were released (Open). Safe for concurrent use.
type Allocator struct {
	mu      sync.Mutex
	next    uint64
	regions []*region
	calls   int

	// FailAt, when > 0, makes the FailAt-th call to Alloc (counting from 1)
	// fail, to test error paths.
	FailAt int

	// SegmentSize, when > 0 (a power of two, a multiple of 4096), makes
	// every region larger than it a segmented one (dma.NewSegmentedRegion)
	// whose segments are at descending device addresses, as UIO hugepages
	// come in a fresh guest.
	SegmentSize int

	// OnRelease, when set, is called (without the Allocator's lock) each
	// time a region is released, to record the order of a teardown.
	OnRelease func(addr uint64)
}

type region struct {
	addr   uint64
	mem    []byte
	segs   []segment // nil when contiguous
	closed bool
}

type segment struct {
	addr uint64
	mem  []byte
}

var _ dma.Allocator = (*Allocator)(nil)

// NewAllocator returns an empty Allocator.
func NewAllocator() *Allocator { return &Allocator{next: BaseAddr} }

// Alloc returns a zeroed region of size bytes at the next page-aligned fake
// device address (with an unmapped guard page between regions).
func (a *Allocator) Alloc(size int) (*dma.Region, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.FailAt > 0 && a.calls == a.FailAt {
		return nil, fmt.Errorf("e1000test: injected allocation failure (call %d)", a.calls)
	}
	if size <= 0 {
		return nil, fmt.Errorf("e1000test: alloc of %d bytes", size)
	}
	r := &region{addr: a.next, mem: make([]byte, size)}
	a.next += (uint64(size)+4095)&^4095 + 4096
	a.regions = append(a.regions, r)
	release := func() error {
		a.mu.Lock()
		if r.closed {
			a.mu.Unlock()
			return fmt.Errorf("e1000test: region %#x released twice", r.addr)
		}
		r.closed = true
		hook := a.OnRelease
		a.mu.Unlock()
		if hook != nil {
			hook(r.addr)
		}
		return nil
	}
	if seg := a.SegmentSize; seg > 0 && size > seg {
		n := (size + seg - 1) / seg
		addrs := make([]uint64, n)
		for i := range addrs {
			// Segment i at r.addr + (n-1-i)*seg: descending.
			addrs[i] = r.addr + uint64(n-1-i)*uint64(seg)
			end := min((i+1)*seg, size)
			r.segs = append(r.segs, segment{addrs[i], r.mem[i*seg : end : end]})
		}
		a.next = r.addr + uint64(n*seg) + 4096
		return dma.NewSegmentedRegion(r.mem, seg, addrs, release), nil
	}
	return dma.NewRegion(r.mem, r.addr, release), nil
}

// Allocated returns how many regions were allocated in total.
func (a *Allocator) Allocated() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.regions)
}

// Open returns how many regions are not yet released.
func (a *Allocator) Open() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.regions {
		if !r.closed {
			n++
		}
	}
	return n
}

// Mem returns the n bytes at device address addr, as the device would reach
// them by DMA, or nil if they are not inside one live region.
func (a *Allocator) Mem(addr uint64, n int) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.regions {
		if r.closed {
			continue
		}
		segs := r.segs
		if segs == nil {
			segs = []segment{{r.addr, r.mem}}
		}
		for _, s := range segs {
			if addr >= s.addr && addr+uint64(n) <= s.addr+uint64(len(s.mem)) {
				off := int(addr - s.addr)
				return s.mem[off : off+n : off+n]
			}
		}
	}
	return nil
}
