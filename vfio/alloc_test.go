package vfio

import (
	"errors"
	"fmt"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/dma"
)

// fakeMapper is an IOMMU that records mappings and refuses overlaps.
type fakeMapper struct {
	maps    map[uint64]uint64 // iova -> size
	log     []string
	failMap error
}

func (m *fakeMapper) MapDMA(mem []byte, iova uint64) error {
	if m.failMap != nil {
		return m.failMap
	}
	for s, n := range m.maps {
		if iova < s+n && s < iova+uint64(len(mem)) {
			return fmt.Errorf("overlap with %#x", s)
		}
	}
	m.maps[iova] = uint64(len(mem))
	m.log = append(m.log, fmt.Sprintf("map %#x+%#x", iova, len(mem)))
	return nil
}

func (m *fakeMapper) UnmapDMA(iova, size uint64) error {
	if m.maps[iova] != size {
		return fmt.Errorf("unmap %#x+%#x: not mapped", iova, size)
	}
	delete(m.maps, iova)
	m.log = append(m.log, fmt.Sprintf("unmap %#x+%#x", iova, size))
	return nil
}

// fakeMem hands out Go memory in place of mmap and checks munmap calls.
type fakeMem struct {
	live   map[*byte]int
	log    *[]string
	failMM error
}

func newAlloc(t *testing.T, opts AllocatorOptions) (*Allocator, *fakeMapper, *fakeMem) {
	m := &fakeMapper{maps: map[uint64]uint64{}}
	fm := &fakeMem{live: map[*byte]int{}, log: &m.log}
	a := NewAllocator(m, opts)
	a.mmap = func(size int, huge bool) ([]byte, error) {
		if fm.failMM != nil {
			return nil, fm.failMM
		}
		b := make([]byte, size)
		fm.live[&b[0]] = size
		return b, nil
	}
	a.munmap = func(b []byte) error {
		if fm.live[&b[0]] != len(b) {
			t.Errorf("munmap of %d bytes that were not mapped (or of a sub-slice)", len(b))
		}
		delete(fm.live, &b[0])
		*fm.log = append(*fm.log, fmt.Sprintf("munmap %#x", len(b)))
		return nil
	}
	return a, m, fm
}

func TestAllocatorBump(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  AllocatorOptions
		sizes []int
		want  []uint64 // IOVAs
	}{
		{"4K pages from the default base", AllocatorOptions{}, []int{1, 4096, 4097, 100},
			[]uint64{0x100000, 0x101000, 0x102000, 0x104000}},
		{"hugepages are 2M-aligned", AllocatorOptions{Hugepages: true}, []int{64, 3 << 20, 1},
			[]uint64{0x200000, 0x400000, 0x800000}},
		{"unaligned base", AllocatorOptions{BaseIOVA: 0x1234}, []int{10, 10},
			[]uint64{0x2000, 0x3000}},
		{"skips the MSI window", AllocatorOptions{BaseIOVA: 0xfedfe000, Ranges: []IOVARange{{0, 0xfedfffff}, {0xfef00000, 1<<39 - 1}}},
			[]int{4096, 8192, 4096, 4096}, []uint64{0xfedfe000, 0xfef00000, 0xfef02000, 0xfef03000}},
	} {
		a, m, _ := newAlloc(t, tc.opts)
		for i, size := range tc.sizes {
			r, err := a.Alloc(size)
			if err != nil {
				t.Fatalf("%s: Alloc(%d): %v", tc.name, size, err)
			}
			if r.Addr() != tc.want[i] || r.Len() != size {
				t.Errorf("%s: Alloc(%d) = %#x len %d, want %#x", tc.name, size, r.Addr(), r.Len(), tc.want[i])
			}
			page := uint64(PageSize)
			if tc.opts.Hugepages {
				page = HugePageSize
			}
			if got := m.maps[r.Addr()]; got != alignUp(uint64(size), page) {
				t.Errorf("%s: mapped %#x bytes for %d", tc.name, got, size)
			}
		}
		if a.Live() != len(tc.sizes) {
			t.Errorf("%s: Live = %d", tc.name, a.Live())
		}
	}
}

func TestAllocatorCloseOrderAndIdempotence(t *testing.T) {
	a, m, fm := newAlloc(t, AllocatorOptions{})
	r1, _ := a.Alloc(100)
	r2, _ := a.Alloc(5000)
	m.log = nil
	for i := 0; i < 2; i++ {
		if err := r1.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// UNMAP_DMA comes before munmap, exactly once.
	if want := []string{"unmap 0x100000+0x1000", "munmap 0x1000"}; fmt.Sprint(m.log) != fmt.Sprint(want) {
		t.Errorf("log %v, want %v", m.log, want)
	}
	if a.Live() != 1 {
		t.Errorf("Live = %d, want 1", a.Live())
	}
	// A new allocation does not reuse the freed IOVA (bump allocator).
	r3, _ := a.Alloc(1)
	if r3.Addr() != 0x103000 {
		t.Errorf("after free: %#x, want 0x103000", r3.Addr())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if len(m.maps) != 0 || len(fm.live) != 0 {
		t.Errorf("after Close: %d IOMMU mappings, %d mmaps left", len(m.maps), len(fm.live))
	}
	if r2.Bytes() != nil || r3.Bytes() != nil {
		t.Error("regions still have memory after Allocator.Close")
	}
	if _, err := a.Alloc(1); !errors.Is(err, dma.ErrClosed) {
		t.Errorf("Alloc after Close = %v, want dma.ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestAllocatorErrors(t *testing.T) {
	a, m, fm := newAlloc(t, AllocatorOptions{Ranges: []IOVARange{{0x100000, 0x102fff}}})
	if _, err := a.Alloc(0); err == nil {
		t.Error("Alloc(0) succeeded")
	}
	// A failed MAP_DMA frees the memory and does not consume IOVA space.
	m.failMap = errMapDMA(0x100000, 4096, unix.ENOMEM)
	if _, err := a.Alloc(1); !errors.Is(err, ErrMemlock) {
		t.Errorf("Alloc with MAP_DMA ENOMEM = %v, want ErrMemlock", err)
	}
	if len(fm.live) != 0 {
		t.Errorf("%d mmaps leaked after a failed map", len(fm.live))
	}
	m.failMap = nil
	r, err := a.Alloc(8192)
	if err != nil || r.Addr() != 0x100000 {
		t.Fatalf("Alloc after failure = %v, %v", r, err)
	}
	if _, err := a.Alloc(8192); !errors.Is(err, ErrIOVAExhausted) {
		t.Errorf("Alloc past the range = %v, want ErrIOVAExhausted", err)
	}
	h, _, hm := newAlloc(t, AllocatorOptions{Hugepages: true})
	hm.failMM = unix.ENOMEM
	if _, err := h.Alloc(1); !errors.Is(err, ErrNoHugepages) {
		t.Errorf("hugepage Alloc with mmap ENOMEM = %v, want ErrNoHugepages", err)
	}
}

// On the host, with no container, the real mmap still runs: check that it
// gives zeroed, writable, shared memory of whole pages.
func TestMmapAnon(t *testing.T) {
	b, err := mmapAnon(5000, false)
	if err != nil {
		t.Fatal(err)
	}
	defer munmap(b)
	if len(b) != 5000 || b[0] != 0 || b[4999] != 0 {
		t.Fatalf("len %d", len(b))
	}
	b[4999] = 1
}

// Allocators of one container share its IOVA space; others do not.
func TestAllocatorsShareContainerSpace(t *testing.T) {
	c := &Container{fd: -1}
	a1 := NewAllocator(c, AllocatorOptions{})
	a2 := NewAllocator(c, AllocatorOptions{Hugepages: true, BaseIOVA: 0x4000_0000})
	if a1.space != a2.space {
		t.Fatal("two allocators of one container have separate IOVA spaces")
	}
	s1, _, _ := a1.space.reserve(4096, PageSize)
	s2, _, _ := a2.space.reserve(HugePageSize, HugePageSize)
	if s1 != DefaultBaseIOVA || s2 != 0x200000 {
		t.Errorf("reservations at %#x and %#x, want %#x and 0x200000", s1, s2, DefaultBaseIOVA)
	}
	m := &fakeMapper{maps: map[uint64]uint64{}}
	p1, p2 := NewAllocator(m, AllocatorOptions{}), NewAllocator(m, AllocatorOptions{})
	if p1.space == p2.space {
		t.Error("allocators over a plain Mapper share a space")
	}
}
