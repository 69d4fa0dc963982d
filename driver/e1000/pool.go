package e1000

import (
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/dma"
)

// BufSize is the size of every packet buffer: RCTL.BSIZE = 2048 (SDM 13.4.22),
// enough for a 1522-byte VLAN frame, so one frame is always one descriptor.
const BufSize = 2048

// bufsPerChunk buffers share one DMA region: 2 MiB, one huge page, so a UIO
// backend can hand out physically contiguous memory for each chunk.
const (
	bufsPerChunkShift = 10
	bufsPerChunk      = 1 << bufsPerChunkShift
)

// noBuf marks a ring slot without a buffer.
const noBuf = ^uint32(0)

// pool is the packet buffer pool: fixed 2 KiB buffers in DMA memory, named by
// index, and a free list.
//
// The free list is a stack guarded by mu, so buffers can be returned from any
// goroutine (the RX path refills from it while the TX path or the consumer of
// received frames frees into it). Batch operations take the lock once. The
// stack is preallocated to hold every buffer, so no operation allocates.
type pool struct {
	chunks []*dma.Region // chunk i holds buffers [i*bufsPerChunk, (i+1)*bufsPerChunk)
	nbufs  uint32

	mu     sync.Mutex // guards free and inPool
	free   []uint32   // stack of free buffer indices
	inPool []bool     // inPool[b]: b is on the free stack (catches double frees)
}

func newPool(alloc dma.Allocator, nbufs int) (*pool, error) {
	p := &pool{
		nbufs:  uint32(nbufs),
		free:   make([]uint32, 0, nbufs),
		inPool: make([]bool, nbufs),
	}
	for left := nbufs; left > 0; left -= bufsPerChunk {
		n := min(left, bufsPerChunk)
		r, err := alloc.Alloc(n * BufSize)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("allocate %d packet buffers: %w", n, err)
		}
		if r.Len() < n*BufSize {
			r.Close()
			p.close()
			return nil, fmt.Errorf("allocate %d packet buffers: got %d bytes, want %d", n, r.Len(), n*BufSize)
		}
		p.chunks = append(p.chunks, r)
	}
	// Push in reverse so AllocBuf hands out 0, 1, 2... first (easier to debug).
	for b := nbufs - 1; b >= 0; b-- {
		p.free = append(p.free, uint32(b))
		p.inPool[b] = true
	}
	return p, nil
}

func (p *pool) close() error {
	var first error
	for _, r := range p.chunks {
		if err := r.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (p *pool) check(b uint32) {
	if b >= p.nbufs {
		panic(fmt.Sprintf("e1000: buffer index %d out of range (pool has %d)", b, p.nbufs))
	}
}

// addr is the device address of buffer b.
func (p *pool) addr(b uint32) uint64 {
	return p.chunks[b>>bufsPerChunkShift].Addr() + uint64(b&(bufsPerChunk-1))*BufSize
}

// bytes is buffer b's memory, n bytes of it (n is clamped to [0, BufSize]).
func (p *pool) bytes(b uint32, n int) []byte {
	p.check(b)
	n = max(0, min(n, BufSize))
	return p.chunks[b>>bufsPerChunkShift].Sub(int(b&(bufsPerChunk-1))*BufSize, n)
}

func (p *pool) get() (uint32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.free)
	if n == 0 {
		return noBuf, false
	}
	b := p.free[n-1]
	p.free = p.free[:n-1]
	p.inPool[b] = false
	return b, true
}

// getMany fills out with free buffers and returns how many it got.
func (p *pool) getMany(out []uint32) int {
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

func (p *pool) put(b uint32) {
	p.check(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.push(b)
}

func (p *pool) putMany(bs []uint32) {
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

func (p *pool) push(b uint32) {
	if p.inPool[b] {
		panic(fmt.Sprintf("e1000: buffer %d freed twice", b))
	}
	p.inPool[b] = true
	p.free = append(p.free, b) // never grows: cap is nbufs and every buffer is in it at most once
}

func (p *pool) available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}
