package e1000

import (
	"fmt"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
)

// BufSize is the size of every packet buffer, the core's: RCTL.BSIZE = 2048
// (SDM 13.4.22) holds a 1522-byte VLAN frame, so one frame is always one
// descriptor.
const BufSize = driver.BufSize

// noBuf marks a ring slot without a buffer.
const noBuf = driver.NoBuf

// pool is the packet buffer pool: fixed 2 KiB buffers in one DMA region,
// named by index, and a free list.
//
// The region may be segmented (UIO hugepages in no physical order): buffer
// b is at byte b*BufSize, and since every segment size is a multiple of
// BufSize no buffer straddles a segment; its device address comes from
// Region.AddrOf.
//
// The free list is the core's (driver.FreeList), shared with driver.BufPool;
// only the memory differs: BufPool is 2 MiB chunks, this is one region that
// the UIO path (PoolRegion) hands out whole.
type pool struct {
	*driver.FreeList
	mem    *dma.Region
	nbufs  uint32
	contig bool   // mem is contiguous for the device: addr needs no segment lookup
	base   uint64 // mem.Addr()
}

func newPool(alloc dma.Allocator, nbufs int) (*pool, error) {
	p := &pool{nbufs: uint32(nbufs)}
	r, err := alloc.Alloc(nbufs * BufSize)
	if err != nil {
		return nil, fmt.Errorf("allocate %d packet buffers: %w", nbufs, err)
	}
	if r.Len() < nbufs*BufSize || r.Segment()%BufSize != 0 {
		r.Close()
		return nil, fmt.Errorf("allocate %d packet buffers: %v is too small or its segments are not a multiple of %d bytes", nbufs, r, BufSize)
	}
	p.mem, p.contig, p.base = r, r.Contiguous(), r.Addr()
	p.FreeList = driver.NewFreeList(nbufs)
	return p, nil
}

func (p *pool) close() error {
	if p.mem == nil {
		return nil
	}
	return p.mem.Close()
}

func (p *pool) check(b uint32) {
	if b >= p.nbufs {
		panic(fmt.Sprintf("e1000: buffer index %d out of range (pool has %d)", b, p.nbufs))
	}
}

// addr is the device address of buffer b (on the packet path: the common
// contiguous case is one multiply-add).
func (p *pool) addr(b uint32) uint64 {
	if p.contig {
		return p.base + uint64(b)*BufSize
	}
	return p.mem.AddrOf(int(b) * BufSize)
}

// bytes is buffer b's memory, n bytes of it (n is clamped to [0, BufSize]).
func (p *pool) bytes(b uint32, n int) []byte {
	p.check(b)
	n = max(0, min(n, BufSize))
	return p.mem.Sub(int(b)*BufSize, n)
}
