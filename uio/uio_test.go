package uio

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/pci"
)

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
type memConfig [256]byte

func (m *memConfig) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m)) {
		return 0, io.EOF
	}
	return copy(p, m[off:]), nil
}
func (m *memConfig) WriteAt(p []byte, off int64) (int, error) { return copy(m[off:], p), nil }

// fakeUIO makes a FIFO standing in for /dev/uioN; post writes a count.
func fakeUIO(t *testing.T) (path string, post func(uint32)) {
	path = filepath.Join(t.TempDir(), "uio0")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	w, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return path, func(c uint32) {
		if err := binary.Write(w, binary.NativeEndian, c); err != nil {
			t.Error(err)
		}
	}
}

func TestIRQ(t *testing.T) {
	path, post := fakeUIO(t)
	var m memConfig
	binary.LittleEndian.PutUint16(m[pci.CfgCommand:], pci.CmdINTxDisable|pci.CmdMemory)
	q, err := newIRQ(path, 41, pci.NewConfig(&m))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []uint32{42, 43, 45} {
		done := make(chan uint64, 1)
		go func() {
			n, err := q.Wait(context.Background())
			if err != nil {
				t.Error(err)
			}
			done <- n
		}()
		select {
		case <-done:
			t.Fatal("Wait returned before the interrupt")
		case <-time.After(20 * time.Millisecond):
		}
		post(c)
		select {
		case n := <-done:
			if want := []uint64{1, 1, 2}[i]; n != want {
				t.Errorf("count %d: Wait = %d, want %d", c, n, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Wait did not return")
		}
		if err := q.Unmask(); err != nil {
			t.Fatal(err)
		}
		if cmd := binary.LittleEndian.Uint16(m[pci.CfgCommand:]); cmd != pci.CmdMemory {
			t.Errorf("command after Unmask = %#x", cmd)
		}
		q.Mask()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want DeadlineExceeded", err)
	}
	post(0) // the count wraps around 2^32
	if n, err := q.Wait(context.Background()); n != 1<<32-45 || err != nil {
		t.Errorf("Wait after wrap = %d, %v", n, err)
	}
	errc := make(chan error, 1)
	go func() { _, err := q.Wait(context.Background()); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	if _, err := q.Wait(context.Background()); !errors.Is(err, ErrBusy) {
		t.Errorf("second waiter = %v, want ErrBusy", err)
	}
	q.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Wait woken by Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Wait")
	}
	if err := q.Unmask(); !errors.Is(err, ErrClosed) {
		t.Errorf("Unmask after Close = %v", err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// fakeDevice builds a sysfs tree with a device bound to uio_pci_generic
// (resource0 and config as regular files) and a FIFO as /dev/uio0.
func fakeDevice(t *testing.T, driver string) (*Options, func(uint32)) {
	root := t.TempDir()
	s := pci.Sysfs{Root: filepath.Join(root, "sys")}
	a := pci.MustParseAddr("0000:00:03.0")
	dir := s.DevicePath(a)
	for f, v := range map[string]string{"vendor": "0x8086\n", "device": "0x100e\n", "class": "0x020000\n", "uio/uio0/event": "7\n"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644)
	}
	bar := make([]byte, 0x20000)
	binary.LittleEndian.PutUint32(bar[8:], 0x80080783)
	os.WriteFile(filepath.Join(dir, "resource0"), bar, 0o644)
	os.WriteFile(filepath.Join(dir, "config"), make([]byte, 256), 0o644)
	os.MkdirAll(s.DriverPath(driver), 0o755)
	os.Symlink(s.DriverPath(driver), filepath.Join(dir, "driver"))
	dev := filepath.Join(root, "dev")
	os.MkdirAll(dev, 0o755)
	path, post := fakeUIO(t)
	os.Symlink(path, filepath.Join(dev, "uio0"))
	return &Options{Sysfs: s, DevDir: dev}, post
}

func TestOpenFake(t *testing.T) {
	opts, post := fakeDevice(t, "uio_pci_generic")
	d, err := Open("00:03.0", opts)
	if err != nil {
		t.Fatal(err)
	}
	if d.UIOName != "uio0" || d.Name != "0000:00:03.0" {
		t.Errorf("device %q uio %q", d.Name, d.UIOName)
	}
	bar, err := d.BAR(0)
	if err != nil {
		t.Fatal(err)
	}
	if st := bar.Read32(8); st != 0x80080783 {
		t.Errorf("STATUS through resource0 = %#x", st)
	}
	if _, err := d.MapBAR(1); err == nil {
		t.Error("MapBAR(1) with no resource1 succeeded")
	}
	if err := d.EnableBusMaster(); err != nil {
		t.Fatal(err)
	}
	q, err := d.IRQ()
	if err != nil {
		t.Fatal(err)
	}
	post(9) // count at open was 7 (sysfs event)
	if n, err := q.Wait(context.Background()); n != 2 || err != nil {
		t.Errorf("Wait = %d, %v; want 2", n, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !q.Closed() {
		t.Error("Device.Close left the IRQ open")
	}
	if _, err := d.IRQ(); !errors.Is(err, ErrClosed) {
		t.Errorf("IRQ after Close = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	opts, _ := fakeDevice(t, "e1000")
	for _, tc := range []struct {
		bdf      string
		sentinel error
		mentions []string
	}{
		{"0000:00:03.0", ErrNotBound, []string{"bound to e1000", "driver_override", "uio_pci_generic"}},
		{"0000:00:04.0", pci.ErrNoDevice, nil},
		{"3.0", pci.ErrBadAddress, []string{"0000:00:03.0"}},
	} {
		_, err := Open(tc.bdf, opts)
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("Open(%s) = %v, want %v", tc.bdf, err, tc.sentinel)
		}
		for _, m := range tc.mentions {
			if err != nil && !strings.Contains(err.Error(), m) {
				t.Errorf("Open(%s): %q does not mention %q", tc.bdf, err, m)
			}
		}
	}
}

// TestTeardownControls: MaskINTx sets Interrupt Disable in the config file
// without an open IRQ, and KeepDMA makes Close leave the allocators'
// hugepages mapped (a device that could not be reset may still write them);
// without it Close unmaps them.
func TestTeardownControls(t *testing.T) {
	for _, keep := range []bool{false, true} {
		opts, _ := fakeDevice(t, "uio_pci_generic")
		d, err := Open("00:03.0", opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.MaskINTx(); err != nil {
			t.Fatal(err)
		}
		if cmd, _ := d.Config().Command(); cmd&pci.CmdINTxDisable == 0 {
			t.Errorf("command %#x after MaskINTx", cmd)
		}
		a, f := newFakeAlloc(t)
		d.allocs = append(d.allocs, a)
		r, err := a.Alloc(4096)
		if err != nil {
			t.Fatal(err)
		}
		if keep {
			d.KeepDMA()
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if kept := f.unmapped == 0 && r.Bytes() != nil; kept != keep {
			t.Errorf("KeepDMA %v: memory kept %v (%d unmapped)", keep, kept, f.unmapped)
		}
	}
}
