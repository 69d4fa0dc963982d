package uio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/dma"
)

// The hugepage allocator: pagemap parsing and carving, on fake hugepage files
// (the lab tests use real ones).
func TestParsePagemapEntry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry uint64
		want  uint64
		err   error
	}{
		{"present", 1<<63 | 0x12345, 0x12345000, nil},
		{"present, soft-dirty and exclusive bits ignored", 1<<63 | 1<<56 | 1<<55 | 0x1, 0x1000, nil},
		{"large PFN (52-bit physical address)", 1<<63 | (1<<40 - 1), (1<<40 - 1) << 12, nil},
		{"not root: PFN zero", 1 << 63, 0, ErrNoPhysAddr},
		{"not present", 0x12345, 0, ErrNoPhysAddr},
		{"swapped", 1 << 62, 0, ErrNoPhysAddr},
	} {
		got, err := parsePagemapEntry(tc.entry)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: %#x, %v; want %#x, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
	_, err := parsePagemapEntry(1 << 63)
	if !strings.Contains(err.Error(), "root") {
		t.Errorf("zero-PFN error %q does not say to run as root", err)
	}
}

// On the host: the pagemap of a locked page, if this process may read PFNs.
func TestPhysAddrHost(t *testing.T) {
	mem, err := unix.Mmap(-1, 0, 8192, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS|unix.MAP_POPULATE|unix.MAP_LOCKED)
	if err != nil {
		t.Skipf("mmap locked: %v", err)
	}
	defer unix.Munmap(mem)
	p, err := PhysAddr(mem, 100)
	if errors.Is(err, ErrNoPhysAddr) {
		t.Skipf("no PFNs here (not root or restricted): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if p == 0 || p&0xfff != 100 {
		t.Errorf("PhysAddr = %#x, want non-zero with page offset 100", p)
	}
	if _, err := PhysAddr(mem, 8192); err == nil {
		t.Error("PhysAddr past the end succeeded")
	}
}

// fakeHuge is a hugepage source: Go memory at made-up physical addresses.
type fakeHuge struct {
	nextPhys uint64
	phys     map[*byte]uint64
	size     map[*byte]int
	gap      bool // leave a physical gap after the first hugepage of a mapping
	desc     bool // hand out a mapping's hugepages in descending physical order
	fail     error
	zeroPFN  bool
	unmapped int
}

func newFakeAlloc(t *testing.T) (*Allocator, *fakeHuge) {
	f := &fakeHuge{nextPhys: 0x40000000, phys: map[*byte]uint64{}, size: map[*byte]int{}}
	a := NewAllocator()
	a.mmap = func(n int) ([]byte, error) {
		if f.fail != nil {
			return nil, f.fail
		}
		b := make([]byte, n)
		f.phys[&b[0]] = f.nextPhys
		f.size[&b[0]] = n
		f.nextPhys += uint64(n) + 4*HugePageSize
		return b, nil
	}
	a.munmap = func(b []byte) error {
		if f.size[&b[0]] != len(b) {
			t.Errorf("munmap of %d bytes not mapped as such", len(b))
		}
		delete(f.size, &b[0])
		f.unmapped++
		return nil
	}
	a.phys = func(mem []byte, off int) (uint64, error) {
		if f.zeroPFN {
			return parsePagemapEntry(1 << 63)
		}
		p := f.phys[&mem[0]] + uint64(off)
		if f.gap && off >= HugePageSize {
			p += HugePageSize
		}
		if f.desc {
			last := uint64(f.size[&mem[0]]/HugePageSize - 1)
			page := uint64(off / HugePageSize)
			p = f.phys[&mem[0]] + (last-page)*HugePageSize + uint64(off%HugePageSize)
		}
		return p, nil
	}
	return a, f
}

func TestAllocatorCarvesHugepages(t *testing.T) {
	a, f := newFakeAlloc(t)
	var regions []*dma.Region
	for _, tc := range []struct {
		size int
		phys uint64
	}{
		{100, 0x40000000},
		{4096, 0x40001000},
		{1, 0x40002000},
		{HugePageSize - 0x3000, 0x40003000},       // fills the first hugepage exactly
		{64, 0x40000000 + 5*HugePageSize},         // next hugepage
		{3 << 20, 0x40000000 + 10*HugePageSize},   // two hugepages of its own
		{8, 0x40000000 + 5*HugePageSize + 0x1000}, // back in the current hugepage
	} {
		r, err := a.Alloc(tc.size)
		if err != nil {
			t.Fatalf("Alloc(%d): %v", tc.size, err)
		}
		if r.Addr() != tc.phys || r.Len() != tc.size {
			t.Errorf("Alloc(%d) at %#x len %d, want %#x", tc.size, r.Addr(), r.Len(), tc.phys)
		}
		regions = append(regions, r)
	}
	if len(f.size) != 3 || a.Live() != 7 {
		t.Fatalf("%d mappings, %d live regions; want 3, 7", len(f.size), a.Live())
	}
	// The first hugepage is retired: it goes when its last region closes.
	for i, r := range regions[:4] {
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[i == 3]; f.unmapped != want {
			t.Errorf("after closing region %d: %d unmapped, want %d", i, f.unmapped, want)
		}
	}
	regions[5].Close() // the dedicated two-hugepage mapping goes at once
	regions[4].Close() // the current hugepage stays for later allocations
	regions[6].Close()
	if f.unmapped != 2 || len(f.size) != 1 {
		t.Errorf("unmapped %d, mapped %d; want 2, 1", f.unmapped, len(f.size))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if len(f.size) != 0 || a.Live() != 0 {
		t.Errorf("after Close: %d mappings, %d live", len(f.size), a.Live())
	}
	if _, err := a.Alloc(1); !errors.Is(err, dma.ErrClosed) {
		t.Errorf("Alloc after Close = %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestAllocatorCloseWithLiveRegions(t *testing.T) {
	a, f := newFakeAlloc(t)
	r1, _ := a.Alloc(10)
	r2, _ := a.Alloc(5 << 20)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if len(f.size) != 0 || r1.Bytes() != nil || r2.Bytes() != nil {
		t.Errorf("Close left %d mappings", len(f.size))
	}
}

func TestAllocatorErrors(t *testing.T) {
	dir := t.TempDir()
	nrHugepagesPath = filepath.Join(dir, "nr_hugepages")
	defer func() { nrHugepagesPath = "/proc/sys/vm/nr_hugepages" }()
	os.WriteFile(nrHugepagesPath, []byte("0\n"), 0o644)

	a, f := newFakeAlloc(t)
	if _, err := a.Alloc(0); err == nil {
		t.Error("Alloc(0) succeeded")
	}
	f.fail = unix.ENOMEM
	_, err := a.Alloc(1)
	if !errors.Is(err, ErrNoHugepages) || !strings.Contains(err.Error(), "0 hugepages reserved") {
		t.Errorf("Alloc without hugepages = %v", err)
	}
	f.fail = nil
	f.zeroPFN = true
	if _, err := a.Alloc(1); !errors.Is(err, ErrNoPhysAddr) {
		t.Errorf("Alloc with zero PFNs = %v, want ErrNoPhysAddr", err)
	}
	if len(f.size) != 0 {
		t.Errorf("%d mappings leaked by failed Allocs", len(f.size))
	}
}

// TestAllocatorLargeDiscontiguous: a region over hugepages that are not
// physically contiguous (a gap, or descending order as a fresh guest hands
// them out) is segmented per hugepage, and AddrOf gives each byte's physical
// address; contiguous hugepages still give a contiguous region.
func TestAllocatorLargeDiscontiguous(t *testing.T) {
	for _, tc := range []struct {
		name      string
		gap, desc bool
	}{{"contiguous", false, false}, {"gap", true, false}, {"descending", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			a, f := newFakeAlloc(t)
			f.gap, f.desc = tc.gap, tc.desc
			const size = 8<<20 - 100
			r, err := a.Alloc(size)
			if err != nil {
				t.Fatalf("Alloc(%d): %v", size, err)
			}
			contiguous := !tc.gap && !tc.desc
			if r.Len() != size || r.Contiguous() != contiguous {
				t.Fatalf("len %d contiguous %v, want %d %v", r.Len(), r.Contiguous(), size, contiguous)
			}
			if !contiguous && r.Segment() != HugePageSize {
				t.Fatalf("segment %d, want %d", r.Segment(), HugePageSize)
			}
			for off := 0; off < size; off += 4096 + 7 {
				want, _ := a.phys(r.Bytes(), off)
				if got := r.AddrOf(off); got != want {
					t.Fatalf("AddrOf(%#x) = %#x, physical %#x", off, got, want)
				}
			}
			if err := a.Close(); err != nil || len(f.size) != 0 {
				t.Fatalf("Close: %v, %d mappings left", err, len(f.size))
			}
		})
	}
}

// memConfig is an in-memory configuration space.
