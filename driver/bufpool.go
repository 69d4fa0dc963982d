package driver

import (
	"errors"
	"fmt"
	"sync"

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
// memory, named by a uint32 index, and a free list. The core creates it and
// hands it to a driver, which posts its buffers to RX rings (Addr) and takes
// transmitted ones back; handlers see the bytes through Packet.
//
// The free list is a stack guarded by mu, so buffers can be returned from any
// goroutine (an RX refill takes from it while a TX reclaim or a consumer of
// received frames gives back). Batch operations take the lock once. The stack
// is preallocated to hold every buffer, so no operation allocates.
type BufPool struct {
	chunks []*dma.Region // chunk i holds buffers [i*bufChunk, (i+1)*bufChunk)
	nbufs  uint32

	mu     sync.Mutex // guards free and inPool
	free   []uint32   // stack of free buffer indices
	inPool []bool     // inPool[b]: b is on the free stack (catches double frees)
}

// NewBufPool allocates n buffers from alloc. On error nothing stays allocated.
func NewBufPool(alloc dma.Allocator, n int) (*BufPool, error) {
	if n < 1 || n > 1<<20 {
		return nil, fmt.Errorf("%w: %d buffers: want 1..%d", ErrPool, n, 1<<20)
	}
	p := &BufPool{nbufs: uint32(n), free: make([]uint32, 0, n), inPool: make([]bool, n)}
	for left := n; left > 0; left -= bufChunk {
		k := min(left, bufChunk)
		r, err := alloc.Alloc(k * BufSize)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("allocate %d packet buffers: %w", k, err)
		}
		if r.Len() < k*BufSize {
			r.Close()
			p.Close()
			return nil, fmt.Errorf("allocate %d packet buffers: got %d bytes, want %d", k, r.Len(), k*BufSize)
		}
		p.chunks = append(p.chunks, r)
	}
	// Push in reverse so Get hands out 0, 1, 2... first (easier to debug).
	for b := n - 1; b >= 0; b-- {
		p.free = append(p.free, uint32(b))
		p.inPool[b] = true
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

// Addr is the device address of buffer b.
func (p *BufPool) Addr(b uint32) uint64 {
	p.check(b)
	return p.chunks[b>>bufChunkShift].Addr() + uint64(b&(bufChunk-1))*BufSize
}

// Packet is buffer b's memory, n bytes of it (n is clamped to [0, BufSize]).
func (p *BufPool) Packet(b uint32, n int) []byte {
	p.check(b)
	n = max(0, min(n, BufSize))
	return p.chunks[b>>bufChunkShift].Sub(int(b&(bufChunk-1))*BufSize, n)
}

// Get takes one free buffer.
func (p *BufPool) Get() (uint32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.free)
	if n == 0 {
		return NoBuf, false
	}
	b := p.free[n-1]
	p.free = p.free[:n-1]
	p.inPool[b] = false
	return b, true
}

// GetMany fills out with free buffers and returns how many it got.
func (p *BufPool) GetMany(out []uint32) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(len(out), len(p.free))
	top := len(p.free) - n
	copy(out, p.free[top:])
	p.free = p.free[:top]
	for _, b := range out[:n] {
		p.inPool[b] = false
	}
	return n
}

// Put returns one buffer. A buffer returned twice is a bug in the caller
// that would hand one buffer to the NIC twice: it panics.
func (p *BufPool) Put(b uint32) {
	p.check(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.push(b)
}

// PutMany returns buffers under one lock.
func (p *BufPool) PutMany(bs []uint32) {
	if len(bs) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range bs {
		p.check(b)
		p.push(b)
	}
}

func (p *BufPool) push(b uint32) {
	if p.inPool[b] {
		panic(fmt.Sprintf("driver: buffer %d freed twice", b))
	}
	p.inPool[b] = true
	p.free = append(p.free, b) // never grows: cap is nbufs and every buffer is in it at most once
}

// Available is how many buffers are free.
func (p *BufPool) Available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}
