package e1000

import (
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/dma"
)

// BufSize is the size of every packet buffer: RCTL.BSIZE = 2048 (SDM 13.4.22),
// enough for a 1522-byte VLAN frame, so one frame is always one descriptor.
const BufSize = 2048

// noBuf marks a ring slot without a buffer.
const noBuf = ^uint32(0)

// pool is the packet buffer pool: fixed 2 KiB buffers in one DMA region,
// named by index, and a free list.
//
// The region may be segmented (UIO hugepages in no physical order): buffer
// b is at byte b*BufSize, and since every segment size is a multiple of
// BufSize no buffer straddles a segment; its device address comes from
// Region.AddrOf.
//
// The free list is a stack guarded by mu, so buffers can be returned from any
// goroutine (the RX path refills from it while the TX path or the consumer of
// received frames frees into it). Batch operations take the lock once. The
// stack is preallocated to hold every buffer, so no operation allocates.
type pool struct {
	mem    *dma.Region
	nbufs  uint32
	contig bool   // mem is contiguous for the device: addr needs no segment lookup
	base   uint64 // mem.Addr()

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
	r, err := alloc.Alloc(nbufs * BufSize)
	if err != nil {
		return nil, fmt.Errorf("allocate %d packet buffers: %w", nbufs, err)
	}
	if r.Len() < nbufs*BufSize || r.Segment()%BufSize != 0 {
		r.Close()
		return nil, fmt.Errorf("allocate %d packet buffers: %v is too small or its segments are not a multiple of %d bytes", nbufs, r, BufSize)
	}
	p.mem, p.contig, p.base = r, r.Contiguous(), r.Addr()
	// Push in reverse so AllocBuf hands out 0, 1, 2... first (easier to debug).
	for b := nbufs - 1; b >= 0; b-- {
		p.free = append(p.free, uint32(b))
		p.inPool[b] = true
	}
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
