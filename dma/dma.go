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
	// Alloc returns a zeroed region of at least size bytes. Its device
	// addresses are contiguous within each segment (Region.Segment): across
	// the whole region from vfio/, and from uio/ for any region of at most
	// 2 MiB; a larger uio/ region may have 2 MiB segments.
	Alloc(size int) (*Region, error)
}

// Region is DMA-able memory: Bytes for the CPU, AddrOf for the device.
//
// A region is contiguous for the device (device address of byte off =
// Addr() + off), or segmented: made of Segment()-byte pieces, each
// contiguous, at unrelated device addresses (UIO hugepages that the kernel
// handed out in no particular physical order). Anything the device reads or
// writes as one block (a descriptor ring, a packet buffer) must lie inside
// one segment; AddrOf gives the device address of any byte.
//
// Ownership: the Region owns its mapping and releases it (IOMMU unmap, munmap)
// in Close. Slices returned by Bytes must not be used after Close.
type Region struct {
	mem     []byte
	addr    uint64
	seg     int      // bytes per segment; len(mem) when contiguous
	segs    []uint64 // device address of each segment; nil when contiguous
	once    sync.Once
	release func() error
	err     error
}

// NewRegion wraps memory that a backend has mapped for the device at device
// address addr, contiguously. release undoes the mapping; it is called at
// most once.
func NewRegion(mem []byte, addr uint64, release func() error) *Region {
	return &Region{mem: mem, addr: addr, seg: len(mem), release: release}
}

// NewSegmentedRegion wraps memory whose device addresses are contiguous only
// within segments of segSize bytes (a power of two): segment i, bytes
// [i*segSize, (i+1)*segSize), is at device address addrs[i]. It panics if
// addrs does not cover mem.
func NewSegmentedRegion(mem []byte, segSize int, addrs []uint64, release func() error) *Region {
	if segSize <= 0 || segSize&(segSize-1) != 0 || len(addrs)*segSize < len(mem) || len(addrs) == 0 {
		panic(fmt.Sprintf("dma: %d segments of %d bytes for a %d-byte region", len(addrs), segSize, len(mem)))
	}
	if len(addrs) == 1 {
		return NewRegion(mem, addrs[0], release)
	}
	return &Region{mem: mem, addr: addrs[0], seg: segSize, segs: append([]uint64(nil), addrs...), release: release}
}

// Segment returns the size of the region's device-contiguous pieces:
// Len() for a contiguous region. A piece starts at every multiple of it.
func (r *Region) Segment() int { return r.seg }

// Contiguous reports whether the whole region is contiguous for the device.
func (r *Region) Contiguous() bool { return r.segs == nil }

// Bytes returns the region's memory.
func (r *Region) Bytes() []byte { return r.mem }

// Len returns the region's size in bytes.
func (r *Region) Len() int { return len(r.mem) }

// Addr returns the device address (IOVA or physical) of the first byte.
// Addr() + off is byte off's device address only in a contiguous region
// (or inside the first segment): use AddrOf.
func (r *Region) Addr() uint64 { return r.addr }

// AddrOf returns the device address of byte off of the region. It allocates
// nothing.
func (r *Region) AddrOf(off int) uint64 {
	if off < 0 || off > len(r.mem) {
		panic(fmt.Sprintf("dma: offset %d outside region of %d bytes", off, len(r.mem)))
	}
	if r.segs == nil {
		return r.addr + uint64(off)
	}
	i := off / r.seg
	if i == len(r.segs) { // off == len(mem) at a segment boundary: one past the end
		return r.segs[i-1] + uint64(r.seg)
	}
	return r.segs[i] + uint64(off%r.seg)
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
	if r.segs != nil {
		return fmt.Sprintf("dma region %d bytes in %d segments of %d bytes, first at device address %#x", len(r.mem), len(r.segs), r.seg, r.addr)
	}
	return fmt.Sprintf("dma region %d bytes at device address %#x", len(r.mem), r.addr)
}
