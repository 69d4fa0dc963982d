package uio

import (
	"errors"
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/dma"
)

// HugePageSize is the size of the hugepages the Allocator uses.
const HugePageSize = 2 << 20

// Align is the alignment of every region's start (virtual and physical).
const Align = 4096

// Allocator is a dma.Allocator of physically addressed memory for devices
// without an IOMMU. Regions up to HugePageSize are carved from the current
// hugepage: each lies inside one hugepage, so it is physically contiguous.
// Larger regions get hugepages of their own. The kernel hands hugepages out
// in no promised physical order (in a fresh guest they come in descending
// order), so such a region is contiguous only when its hugepages happen to
// be; otherwise it is a segmented dma.Region with one physical address per
// 2 MiB hugepage (Region.Segment() == HugePageSize), and the caller keeps
// each ring or buffer inside one segment. Hugepages are locked (MAP_LOCKED
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
	mem   []byte
	pages []uint64 // physical address of each hugepage of mem
	used  int      // bytes carved so far
	refs  int      // live regions carved from it
}

// contiguous reports whether the hugepages follow each other physically.
func (c *chunk) contiguous() bool {
	for i, p := range c.pages {
		if p != c.pages[0]+uint64(i)*HugePageSize {
			return false
		}
	}
	return true
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

// newChunk maps n bytes (a multiple of HugePageSize) of hugepages and reads
// the physical address of each.
func (a *Allocator) newChunk(n int) (*chunk, error) {
	mem, err := a.mmap(n)
	if err != nil {
		if errors.Is(err, unix.ENOMEM) {
			return nil, errHugepages(n, err)
		}
		return nil, fmt.Errorf("uio: alloc: mmap %d bytes of hugepages: %w", n, err)
	}
	c := &chunk{mem: mem}
	for off := 0; off < n; off += HugePageSize {
		p, err := a.phys(mem, off)
		if err != nil {
			a.munmap(mem)
			return nil, err
		}
		c.pages = append(c.pages, p)
	}
	return c, nil
}

// Alloc returns a zeroed region of size bytes whose start is Align-aligned
// (physically too). A region of at most HugePageSize is physically
// contiguous; a larger one is contiguous, or segmented per hugepage (see
// Allocator).
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
	release := func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.live, r)
		c.refs--
		if c.refs == 0 && c != a.cur {
			return a.free(c)
		}
		return nil
	}
	mem := c.mem[off : off+size : off+size]
	if off == 0 && !c.contiguous() {
		r = dma.NewSegmentedRegion(mem, HugePageSize, c.pages, release)
	} else {
		// One hugepage, or several that follow each other physically.
		r = dma.NewRegion(mem, c.pages[0]+uint64(off), release)
	}
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
