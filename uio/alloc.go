package uio

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/dma"
)

// HugePageSize is the size of the hugepages the Allocator uses.
const HugePageSize = 2 << 20

// Align is the alignment of every region's start (virtual and physical).
const Align = 4096

// Allocator is a dma.Allocator of physically addressed memory for devices
// without an IOMMU. Regions up to HugePageSize are carved from the current
// hugepage (each region lies inside one hugepage, so it is physically
// contiguous); larger regions get hugepages of their own, whose physical
// contiguity is verified through pagemap. Hugepages are locked (MAP_LOCKED
// and mlock): their physical addresses never change.
//
// A hugepage is unmapped when every region carved from it is closed and the
// allocator has moved on to another hugepage (or is closed).
// Methods are safe for concurrent use.
type Allocator struct {
	mu     sync.Mutex // guards cur, live, closed and every chunk's used and refs
	cur    *chunk     // hugepage being carved, nil at first
	live   map[*dma.Region]*chunk
	closed bool

	// Replaced by tests.
	mmap   func(n int) ([]byte, error)
	munmap func([]byte) error
	phys   func(mem []byte, off int) (uint64, error)
}

// chunk is one mapping of one or more hugepages.
type chunk struct {
	mem  []byte
	phys uint64 // physical address of mem[0]
	used int    // bytes carved so far
	refs int    // live regions carved from it
}

var _ dma.Allocator = (*Allocator)(nil)

// NewAllocator returns an allocator of hugepage DMA memory.
func NewAllocator() *Allocator {
	return &Allocator{
		live: map[*dma.Region]*chunk{},
		mmap: func(n int) ([]byte, error) {
			mem, err := mmapHuge(n)
			if err != nil {
				return nil, err
			}
			if err := mlock(mem); err != nil {
				munmap(mem)
				return nil, fmt.Errorf("mlock: %w", err)
			}
			return mem, nil
		},
		munmap: munmap,
		phys:   PhysAddr,
	}
}

func alignUp(v, a int) int { return (v + a - 1) &^ (a - 1) }

// newChunk maps n bytes of hugepages and checks that they are physically
// contiguous and have physical addresses.
func (a *Allocator) newChunk(n int) (*chunk, error) {
	mem, err := a.mmap(n)
	if err != nil {
		if errors.Is(err, unix.ENOMEM) {
			return nil, errHugepages(n, err)
		}
		return nil, fmt.Errorf("uio: alloc: mmap %d bytes of hugepages: %w", n, err)
	}
	base, err := a.phys(mem, 0)
	if err != nil {
		a.munmap(mem)
		return nil, err
	}
	for off := HugePageSize; off < n; off += HugePageSize {
		p, err := a.phys(mem, off)
		if err != nil {
			a.munmap(mem)
			return nil, err
		}
		if p != base+uint64(off) {
			a.munmap(mem)
			return nil, fmt.Errorf("%w: %d bytes: hugepage at offset %#x is at physical %#x, want %#x; allocate at most %d bytes at a time",
				ErrNotContiguous, n, off, p, base+uint64(off), HugePageSize)
		}
	}
	return &chunk{mem: mem, phys: base}, nil
}

// Alloc returns a zeroed, physically contiguous region of size bytes whose
// start is Align-aligned.
func (a *Allocator) Alloc(size int) (*dma.Region, error) {
	if size <= 0 {
		return nil, fmt.Errorf("uio: alloc %d bytes: size must be positive", size)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, fmt.Errorf("uio: alloc: %w", dma.ErrClosed)
	}
	var c *chunk
	off := 0
	if size > HugePageSize {
		nc, err := a.newChunk(alignUp(size, HugePageSize))
		if err != nil {
			return nil, err
		}
		c = nc
		c.used = size
	} else {
		if a.cur == nil || alignUp(a.cur.used, Align)+size > len(a.cur.mem) {
			nc, err := a.newChunk(HugePageSize)
			if err != nil {
				return nil, err
			}
			a.retire(a.cur)
			a.cur = nc
		}
		c = a.cur
		off = alignUp(c.used, Align)
		c.used = off + size
	}
	c.refs++
	var r *dma.Region
	r = dma.NewRegion(c.mem[off:off+size:off+size], c.phys+uint64(off), func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.live, r)
		c.refs--
		if c.refs == 0 && c != a.cur {
			return a.free(c)
		}
		return nil
	})
	a.live[r] = c
	return r, nil
}

// retire frees c if no region uses it; otherwise the last region's Close does.
// Called with a.mu held.
func (a *Allocator) retire(c *chunk) {
	if c != nil && c.refs == 0 {
		a.free(c)
	}
}

func (a *Allocator) free(c *chunk) error {
	if err := a.munmap(c.mem); err != nil {
		return fmt.Errorf("uio: munmap %d bytes of hugepages: %w", len(c.mem), err)
	}
	c.mem = nil
	return nil
}

// Live returns how many regions are allocated and not yet closed.
func (a *Allocator) Live() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.live)
}

// Close closes every live region, unmaps every hugepage and makes Alloc
// fail. It is idempotent.
func (a *Allocator) Close() error {
	a.mu.Lock()
	a.closed = true
	cur := a.cur
	a.cur = nil
	live := make([]*dma.Region, 0, len(a.live))
	for r := range a.live {
		live = append(live, r)
	}
	var first error
	if cur != nil && cur.refs == 0 {
		first = a.free(cur)
	}
	a.mu.Unlock()
	for _, r := range live {
		if err := r.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
