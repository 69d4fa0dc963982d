package vfio

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/dma"
)

// Mapper maps memory into an IOMMU. *Container implements it.
type Mapper interface {
	MapDMA(mem []byte, iova uint64) error
	UnmapDMA(iova, size uint64) error
}

var _ Mapper = (*Container)(nil)

// Page sizes of the allocator's backing memory.
const (
	PageSize     = 4096
	HugePageSize = 2 << 20
)

// DefaultBaseIOVA is the first IOVA an Allocator hands out unless told
// otherwise: not zero, so that a zeroed descriptor address is never valid
// memory, and low, so that addresses fit 32-bit DMA engines.
const DefaultBaseIOVA = 1 << 20

// AllocatorOptions configures an Allocator. The zero value gives 4 KiB pages
// from IOVA DefaultBaseIOVA upward with no upper bound but 2^48.
type AllocatorOptions struct {
	// Hugepages backs every allocation with 2 MiB hugepages (MAP_HUGETLB) and
	// aligns its IOVA to 2 MiB. It needs reserved hugepages
	// (/proc/sys/vm/nr_hugepages).
	Hugepages bool
	// BaseIOVA is the lowest IOVA handed out; zero means DefaultBaseIOVA.
	BaseIOVA uint64
	// Ranges are the usable inclusive IOVA ranges (IOMMUInfo.Ranges, which
	// exclude the MSI window); nil means [0, 2^48).
	Ranges []IOVARange
}

// Allocator is a dma.Allocator over a VFIO container: each Alloc is an
// anonymous shared mapping, populated (MAP_SHARED|MAP_ANONYMOUS|MAP_POPULATE,
// plus MAP_HUGETLB with Hugepages), mapped for the device at the next free
// IOVA of a bump allocator. IOVAs are never reused. Region.Close unmaps the
// IOVA (VFIO_IOMMU_UNMAP_DMA) and then munmaps the memory.
//
// Methods are safe for concurrent use.
type Allocator struct {
	m     Mapper
	huge  bool
	space *iovaSpace // shared by every Allocator of one Container

	mu     sync.Mutex // guards live, closed
	live   map[*dma.Region]struct{}
	closed bool

	// The memory source, replaced by tests.
	mmap   func(size int, huge bool) ([]byte, error)
	munmap func([]byte) error
}

// iovaSpace is a bump allocator of IOVAs. IOVAs are never reused.
type iovaSpace struct {
	mu     sync.Mutex // guards next
	next   uint64
	ranges []IOVARange // sorted, inclusive
}

func newIOVASpace(opts AllocatorOptions) *iovaSpace {
	sp := &iovaSpace{next: opts.BaseIOVA}
	if sp.next == 0 {
		sp.next = DefaultBaseIOVA
	}
	sp.ranges = append([]IOVARange(nil), opts.Ranges...)
	if len(sp.ranges) == 0 {
		sp.ranges = []IOVARange{{0, 1<<48 - 1}}
	}
	sort.Slice(sp.ranges, func(i, j int) bool { return sp.ranges[i].Start < sp.ranges[j].Start })
	return sp
}

var _ dma.Allocator = (*Allocator)(nil)

// spaceSharer is a Mapper whose Allocators share one IOVA space: a Container
// or an IOMMUFD (one IOAS).
type spaceSharer interface {
	sharedSpace(opts AllocatorOptions) *iovaSpace
}

// NewAllocator returns an allocator that maps through m. When m is a
// *Container or an *IOMMUFD, every Allocator of that container or IOAS draws IOVAs from one space,
// set up by the first Allocator's BaseIOVA and Ranges (later Allocators'
// BaseIOVA and Ranges are ignored); otherwise the Allocator has its own.
func NewAllocator(m Mapper, opts AllocatorOptions) *Allocator {
	var sp *iovaSpace
	if sh, ok := m.(spaceSharer); ok {
		sp = sh.sharedSpace(opts)
	} else {
		sp = newIOVASpace(opts)
	}
	return &Allocator{
		m:      m,
		huge:   opts.Hugepages,
		space:  sp,
		live:   map[*dma.Region]struct{}{},
		mmap:   mmapAnon,
		munmap: munmap,
	}
}

func mmapAnon(size int, huge bool) ([]byte, error) {
	flags := unix.MAP_SHARED | unix.MAP_ANONYMOUS | unix.MAP_POPULATE
	if huge {
		flags |= unix.MAP_HUGETLB
	}
	return mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, flags)
}

func (a *Allocator) pageSize() uint64 {
	if a.huge {
		return HugePageSize
	}
	return PageSize
}

func alignUp(v, align uint64) uint64 { return (v + align - 1) &^ (align - 1) }

// reserve takes the next free IOVA range of n bytes aligned to align
// inside a usable range. release gives it back if nothing was reserved
// after it (an Alloc that failed after reserving).
func (sp *iovaSpace) reserve(n, align uint64) (iova uint64, release func(), err error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	start := alignUp(sp.next, align)
	for _, r := range sp.ranges {
		if r.End < start {
			continue
		}
		s := max(start, alignUp(r.Start, align))
		end := s + n - 1
		if s < start || end < s { // wrapped around
			break
		}
		if end <= r.End {
			prev := sp.next
			sp.next = s + n
			return s, func() {
				sp.mu.Lock()
				if sp.next == s+n {
					sp.next = prev
				}
				sp.mu.Unlock()
			}, nil
		}
	}
	return 0, nil, fmt.Errorf("%w: no room for %d bytes at or above IOVA %#x in %#x", ErrIOVAExhausted, n, start, sp.ranges)
}

// Alloc returns a zeroed region of size bytes (its mapping is rounded up to
// whole pages) mapped for the device at a page-aligned IOVA.
func (a *Allocator) Alloc(size int) (*dma.Region, error) {
	if size <= 0 {
		return nil, fmt.Errorf("vfio: alloc %d bytes: size must be positive", size)
	}
	page := a.pageSize()
	n := alignUp(uint64(size), page)

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, fmt.Errorf("vfio: alloc: %w", dma.ErrClosed)
	}
	iova, unreserve, err := a.space.reserve(n, page)
	if err != nil {
		return nil, err
	}
	mem, err := a.mmap(int(n), a.huge)
	if err != nil {
		unreserve()
		if a.huge && errors.Is(err, unix.ENOMEM) {
			return nil, errHugepages(int(n), err)
		}
		return nil, fmt.Errorf("vfio: alloc: mmap %d bytes: %w", n, err)
	}
	if err := a.m.MapDMA(mem, iova); err != nil {
		a.munmap(mem)
		unreserve()
		return nil, err
	}

	var r *dma.Region
	r = dma.NewRegion(mem[:size:size], iova, func() error {
		a.mu.Lock()
		delete(a.live, r)
		a.mu.Unlock()
		// Unmap from the IOMMU before freeing the memory: the device must
		// never be able to reach pages the kernel may hand to someone else.
		uerr := a.m.UnmapDMA(iova, n)
		if uerr != nil && errors.Is(uerr, ErrClosed) {
			uerr = nil // container closed: the kernel dropped every mapping
		}
		merr := a.munmap(mem)
		if uerr != nil {
			return uerr
		}
		if merr != nil {
			return fmt.Errorf("vfio: munmap DMA region at IOVA %#x: %w", iova, merr)
		}
		return nil
	})
	a.live[r] = struct{}{}
	return r, nil
}

// Live returns how many regions are allocated and not yet closed.
func (a *Allocator) Live() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.live)
}

// Close closes every live region and makes Alloc fail. It is idempotent.
func (a *Allocator) Close() error {
	a.mu.Lock()
	a.closed = true
	live := make([]*dma.Region, 0, len(a.live))
	for r := range a.live {
		live = append(live, r)
	}
	a.mu.Unlock()
	var first error
	for _, r := range live {
		if err := r.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
