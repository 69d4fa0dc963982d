package drivertest

import (
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/dma"
)

// BaseAddr is the first device address MemAllocator hands out: above 4 GiB,
// so that the high halves of base address registers are exercised, and far
// from 0, so that a driver writing a buffer index or an offset where an
// address belongs is caught.
const BaseAddr = 0x1_2340_0000

// MemAllocator is the fakes' one dma.Allocator: anonymous memory outside
// the Go heap (mmap), as DMA memory is, at made-up device addresses. It
// remembers every region so that a fake device can translate device
// addresses (Mem) and a test can check that every region was released
// (Open). Safe for concurrent use.
type MemAllocator struct {
	mu      sync.Mutex
	next    uint64
	regions []*memRegion
	calls   int

	// FailAt, when > 0, makes the FailAt-th call to Alloc (counting from 1)
	// fail, to test error paths.
	FailAt int

	// SegmentSize, when > 0 (a power of two, a multiple of 4096), makes
	// every region larger than it a segmented one (dma.NewSegmentedRegion)
	// whose segments are at descending device addresses, as UIO hugepages
	// come in a fresh guest.
	SegmentSize int

	// OnRelease, when set, is called (without the allocator's lock) each
	// time a region is released, to record the order of a teardown.
	OnRelease func(addr uint64)
}

type memRegion struct {
	addr uint64
	mem  []byte
	segs []memSegment // nil when contiguous
	live bool
}

type memSegment struct {
	addr uint64
	mem  []byte
}

var _ dma.Allocator = (*MemAllocator)(nil)

// NewMemAllocator returns an empty allocator.
func NewMemAllocator() *MemAllocator { return &MemAllocator{next: BaseAddr} }

// Alloc maps a zeroed region of size bytes (rounded up to 4 KiB) at the next
// free device address, with an unmapped gap after it: a run past its end
// reaches no other region.
func (a *MemAllocator) Alloc(size int) (*dma.Region, error) {
	a.mu.Lock()
	a.calls++
	calls := a.calls
	a.mu.Unlock()
	if a.FailAt > 0 && calls == a.FailAt {
		return nil, fmt.Errorf("drivertest: injected allocation failure (call %d)", calls)
	}
	if size <= 0 {
		return nil, fmt.Errorf("drivertest: allocate %d bytes", size)
	}
	mapped := (size + 4095) &^ 4095
	mem, err := unix.Mmap(-1, 0, mapped, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("drivertest: mmap %d bytes: %w", mapped, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := &memRegion{addr: a.next, mem: mem[:size:size], live: true}
	a.next += uint64(mapped) + 1<<20
	a.regions = append(a.regions, r)
	release := func() error {
		a.mu.Lock()
		if !r.live {
			a.mu.Unlock()
			return fmt.Errorf("drivertest: region %#x released twice", r.addr)
		}
		r.live = false
		hook := a.OnRelease
		a.mu.Unlock()
		if hook != nil {
			hook(r.addr)
		}
		return unix.Munmap(mem)
	}
	if seg := a.SegmentSize; seg > 0 && size > seg {
		n := (size + seg - 1) / seg
		addrs := make([]uint64, n)
		for i := range addrs {
			// Segment i at r.addr + (n-1-i)*seg: descending.
			addrs[i] = r.addr + uint64(n-1-i)*uint64(seg)
			end := min((i+1)*seg, size)
			r.segs = append(r.segs, memSegment{addrs[i], r.mem[i*seg : end : end]})
		}
		a.next = r.addr + uint64(n*seg) + 1<<20
		return dma.NewSegmentedRegion(r.mem, seg, addrs, release), nil
	}
	return dma.NewRegion(r.mem, r.addr, release), nil
}

// Allocated is how many regions were allocated in total.
func (a *MemAllocator) Allocated() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.regions)
}

// Open is how many regions are allocated and not yet released.
func (a *MemAllocator) Open() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.regions {
		if r.live {
			n++
		}
	}
	return n
}

// Mem is the memory at device address addr, n bytes, as a fake device's
// DMA reaches it, or nil when no live region (segment) holds all of it.
func (a *MemAllocator) Mem(addr uint64, n int) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.regions {
		if !r.live {
			continue
		}
		segs := r.segs
		if segs == nil {
			segs = []memSegment{{r.addr, r.mem}}
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
