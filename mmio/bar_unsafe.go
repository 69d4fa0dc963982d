package mmio

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// BAR is a memory-mapped register window (a PCI BAR mapped with mmap).
// It does not own the mapping: whoever mapped it unmaps it.
type BAR struct {
	mem []byte
}

// NewBAR wraps a mapped BAR. mem must stay mapped while the BAR is used.
func NewBAR(mem []byte) *BAR { return &BAR{mem: mem} }

// Len returns the size of the window in bytes.
func (b *BAR) Len() int { return len(b.mem) }

func (b *BAR) ptr(off uint32) *uint32 {
	if off&3 != 0 || int(off)+4 > len(b.mem) {
		panic(fmt.Sprintf("mmio: register offset %#x outside BAR of %#x bytes or unaligned", off, len(b.mem)))
	}
	return (*uint32)(unsafe.Pointer(&b.mem[off]))
}

// Read32 reads the register at off. atomic.LoadUint32 is a plain 32-bit MOV
// on amd64 that the compiler can neither elide nor merge.
func (b *BAR) Read32(off uint32) uint32 { return atomic.LoadUint32(b.ptr(off)) }

// Write32 writes v to the register at off with a plain 32-bit store (not
// atomic.StoreUint32, which is XCHG on amd64 and would read the register too).
// The write goes through a pointer the compiler cannot prove unused, and x86
// keeps stores in program order, so the write reaches the device in order.
func (b *BAR) Write32(off uint32, v uint32) { store32(b.ptr(off), v) }

//go:noinline
func store32(p *uint32, v uint32) { *p = v }

var _ Regs = (*BAR)(nil)
