package dma

import (
	"errors"
	"fmt"
	"sync"
)

// ErrClosed is returned by operations on a Region or Allocator after Close.
var ErrClosed = errors.New("dma: closed")

// Allocator hands out DMA memory. Implementations live in vfio/ and uio/.
type Allocator interface {
	// Alloc returns a zeroed region of at least size bytes whose device
	// addresses are contiguous.
	Alloc(size int) (*Region, error)
}

// Region is DMA-able memory: Bytes for the CPU, Addr for the device.
//
// Ownership: the Region owns its mapping and releases it (IOMMU unmap, munmap)
// in Close. Slices returned by Bytes must not be used after Close.
type Region struct {
	mem     []byte
	addr    uint64
	once    sync.Once
	release func() error
	err     error
}

// NewRegion wraps memory that a backend has mapped for the device at device
// address addr. release undoes the mapping; it is called at most once.
func NewRegion(mem []byte, addr uint64, release func() error) *Region {
	return &Region{mem: mem, addr: addr, release: release}
}

// Bytes returns the region's memory.
func (r *Region) Bytes() []byte { return r.mem }

// Len returns the region's size in bytes.
func (r *Region) Len() int { return len(r.mem) }

// Addr returns the device address (IOVA or physical) of the first byte.
func (r *Region) Addr() uint64 { return r.addr }

// AddrOf returns the device address of byte off of the region.
func (r *Region) AddrOf(off int) uint64 {
	if off < 0 || off > len(r.mem) {
		panic(fmt.Sprintf("dma: offset %d outside region of %d bytes", off, len(r.mem)))
	}
	return r.addr + uint64(off)
}

// Sub returns the bytes [off, off+n) of the region.
func (r *Region) Sub(off, n int) []byte { return r.mem[off : off+n : off+n] }

// Close releases the region. It is idempotent and returns the first
// release error on every call.
func (r *Region) Close() error {
	r.once.Do(func() {
		if r.release != nil {
			r.err = r.release()
		}
		r.mem = nil
	})
	return r.err
}

// String describes the region for logs.
func (r *Region) String() string {
	return fmt.Sprintf("dma region %d bytes at device address %#x", len(r.mem), r.addr)
}
