package drivertest

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/dma"
)

// BaseAddr is the first device address MemAllocator hands out: far from 0, so
// that a driver writing a buffer index or an offset where an address belongs
// is caught.
const BaseAddr = 0x1_0000_0000

// MemAllocator is a dma.Allocator over anonymous memory outside the Go heap
// (mmap), with made-up device addresses, for fakes.
type MemAllocator struct {
	mu      sync.Mutex
	next    uint64
	regions []memRegion
	open    int
}

type memRegion struct {
	addr uint64
	mem  []byte
	live bool
}

// NewMemAllocator returns an empty allocator.
func NewMemAllocator() *MemAllocator { return &MemAllocator{next: BaseAddr} }

// Alloc maps size bytes (rounded up to 4 KiB).
func (a *MemAllocator) Alloc(size int) (*dma.Region, error) {
	if size <= 0 {
		return nil, fmt.Errorf("drivertest: allocate %d bytes", size)
	}
	size = (size + 4095) &^ 4095
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("drivertest: mmap %d bytes: %w", size, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	addr := a.next
	a.next += uint64(size) + 1<<20 // a gap: a run past the end is no other region
	i := len(a.regions)
	a.regions = append(a.regions, memRegion{addr: addr, mem: mem, live: true})
	a.open++
	return dma.NewRegion(mem, addr, func() error {
		a.mu.Lock()
		a.regions[i].live = false
		a.open--
		a.mu.Unlock()
		return unix.Munmap(mem)
	}), nil
}

// Open is how many regions are allocated and not yet closed.
func (a *MemAllocator) Open() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.open
}

// Mem is the memory at device address addr, n bytes, as the fake device's DMA
// sees it, or nil when no live region holds all of it.
func (a *MemAllocator) Mem(addr uint64, n int) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.regions {
		if r.live && addr >= r.addr && addr+uint64(n) <= r.addr+uint64(len(r.mem)) {
			off := addr - r.addr
			return r.mem[off : off+uint64(n) : off+uint64(n)]
		}
	}
	return nil
}
