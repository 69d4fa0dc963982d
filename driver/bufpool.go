package driver

import (
	"errors"
	"fmt"

	"github.com/uiodrv/uiodrv/dma"
)

// BufSize is the size of every packet buffer: 2 KiB holds a 1522-byte VLAN
// frame, so one frame is always one descriptor on every supported NIC.
const BufSize = 2048

// bufChunk is how many buffers share one DMA region: 2 MiB, one huge page, so
// a UIO backend can hand out physically contiguous memory for each chunk and a
// buffer never straddles two pages.
const (
	bufChunkShift = 10
	bufChunk      = 1 << bufChunkShift
)

// NoBuf is the index no buffer has: a ring slot without a buffer.
const NoBuf = ^uint32(0)

// ErrPool wraps buffer pool misuse that callers can check for.
var ErrPool = errors.New("driver: buffer pool")

// BufPool is the NIC-agnostic packet buffer pool: fixed BufSize buffers in DMA
// memory, named by a uint32 index, and a free list (FreeList: Get, GetMany,
// Put, PutMany, Available, safe from any goroutine, allocation-free). The core
// creates it and hands it to a driver, which posts its buffers to RX rings
// (Addr) and takes transmitted ones back; handlers see the bytes through
// Packet.
type BufPool struct {
	*FreeList
	chunks []*dma.Region // chunk i holds buffers [i*bufChunk, (i+1)*bufChunk)
	// bases[i] is chunk i's device address when every chunk is contiguous
	// for the device (the usual case: Addr is then one load and a
	// multiply-add); nil when one is segmented.
	bases []uint64
	nbufs uint32
}

// NewBufPool allocates n buffers from alloc. On error nothing stays allocated.
func NewBufPool(alloc dma.Allocator, n int) (*BufPool, error) {
	if n < 1 || n > 1<<20 {
		return nil, fmt.Errorf("%w: %d buffers: want 1..%d", ErrPool, n, 1<<20)
	}
	p := &BufPool{nbufs: uint32(n)}
	for left := n; left > 0; left -= bufChunk {
		k := min(left, bufChunk)
		r, err := alloc.Alloc(k * BufSize)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("allocate %d packet buffers: %w", k, err)
		}
		if r.Len() < k*BufSize || r.Segment()%BufSize != 0 {
			r.Close()
			p.Close()
			return nil, fmt.Errorf("allocate %d packet buffers: got %v, want %d bytes in segments of a multiple of %d", k, r, k*BufSize, BufSize)
		}
		p.chunks = append(p.chunks, r)
	}
	p.FreeList = NewFreeList(n)
	for _, c := range p.chunks {
		if !c.Contiguous() {
			p.bases = nil
			break
		}
		p.bases = append(p.bases, c.Addr())
	}
	return p, nil
}

// Close releases the DMA memory. Only call it once no device can write the
// buffers any more (bus mastering off, device reset): see Port's teardown.
func (p *BufPool) Close() error {
	var errs []error
	for _, r := range p.chunks {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// Len is the number of buffers the pool manages.
func (p *BufPool) Len() int { return int(p.nbufs) }

func (p *BufPool) check(b uint32) {
	if b >= p.nbufs {
		panic(fmt.Sprintf("driver: buffer index %d out of range (pool has %d)", b, p.nbufs))
	}
}

// Addr is the device address of buffer b. A chunk may be segmented for
// the device (UIO pages in no physical order): since every segment is a
// multiple of BufSize, no buffer straddles two, and the common contiguous
// case is one multiply-add.
func (p *BufPool) Addr(b uint32) uint64 {
	if p.bases != nil && b < p.nbufs {
		return p.bases[b>>bufChunkShift] + uint64(b&(bufChunk-1))*BufSize
	}
	p.check(b)
	return p.chunks[b>>bufChunkShift].AddrOf(int(b&(bufChunk-1)) * BufSize)
}

// Packet is buffer b's memory, n bytes of it (n is clamped to [0, BufSize]).
func (p *BufPool) Packet(b uint32, n int) []byte {
	p.check(b)
	n = max(0, min(n, BufSize))
	return p.chunks[b>>bufChunkShift].Sub(int(b&(bufChunk-1))*BufSize, n)
}
