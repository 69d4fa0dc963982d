package driver

import (
	"fmt"
	"sync"
)

// FreeList is the free list of a packet buffer pool: buffer indices 0..n-1
// on a stack: BufPool's, where the locking and the double-free check live.
//
// The stack is guarded by a mutex so that buffers can be returned from any
// goroutine: an RX refill takes from it while a TX reclaim or a consumer of
// received frames gives back. Batch operations take the lock once. The stack
// is preallocated to hold every buffer, so no operation allocates.
type FreeList struct {
	mu     sync.Mutex // guards free and inPool
	free   []uint32   // stack of free buffer indices
	inPool []bool     // inPool[b]: b is on the free stack (catches double frees)
}

// NewFreeList returns a free list of n buffers, all free. Get hands out 0,
// 1, 2... first, which makes traces easier to read.
func NewFreeList(n int) *FreeList {
	l := &FreeList{free: make([]uint32, 0, n), inPool: make([]bool, n)}
	for b := n - 1; b >= 0; b-- {
		l.free = append(l.free, uint32(b))
		l.inPool[b] = true
	}
	return l
}

// Get takes one free buffer.
func (l *FreeList) Get() (uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.free)
	if n == 0 {
		return NoBuf, false
	}
	b := l.free[n-1]
	l.free = l.free[:n-1]
	l.inPool[b] = false
	return b, true
}

// GetMany fills out with free buffers and returns how many it got.
func (l *FreeList) GetMany(out []uint32) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(len(out), len(l.free))
	top := len(l.free) - n
	copy(out, l.free[top:])
	l.free = l.free[:top]
	for _, b := range out[:n] {
		l.inPool[b] = false
	}
	return n
}

// Put returns one buffer. A buffer returned twice, or one the list never
// had, is a bug in the caller that would hand one buffer to the NIC twice:
// it panics.
func (l *FreeList) Put(b uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.push(b)
}

// PutMany returns buffers under one lock.
func (l *FreeList) PutMany(bs []uint32) {
	if len(bs) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range bs {
		l.push(b)
	}
}

func (l *FreeList) push(b uint32) {
	if b >= uint32(len(l.inPool)) {
		panic(fmt.Sprintf("driver: buffer index %d out of range (pool has %d)", b, len(l.inPool)))
	}
	if l.inPool[b] {
		panic(fmt.Sprintf("driver: buffer %d freed twice", b))
	}
	l.inPool[b] = true
	l.free = append(l.free, b) // never grows: cap is n and every buffer is in it at most once
}

// Available is how many buffers are free.
func (l *FreeList) Available() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.free)
}
