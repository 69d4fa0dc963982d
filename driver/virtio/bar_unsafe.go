package virtio

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// window is a register block inside a mapped BAR. Every access goes through
// a pointer into device memory exactly once and at the field's width: the
// loads and stores are not inlined (go:noinline), so the compiler can neither
// merge, widen nor elide them, which is what makes them volatile.
type window struct{ mem []byte }

var _ Regs = window{}

func (w window) ptr(off uint32, size uint32) unsafe.Pointer {
	if off%size != 0 || uint64(off)+uint64(size) > uint64(len(w.mem)) {
		panic(fmt.Sprintf("virtio: register access of %d bytes at %#x outside its %d-byte block or unaligned", size, off, len(w.mem)))
	}
	return unsafe.Pointer(&w.mem[off])
}

//go:noinline
func load8(p *uint8) uint8 { return *p }

//go:noinline
func load16(p *uint16) uint16 { return *p }

//go:noinline
func store8(p *uint8, v uint8) { *p = v }

//go:noinline
func store16(p *uint16, v uint16) { *p = v }

//go:noinline
func store32(p *uint32, v uint32) { *p = v } // a plain MOV: atomic.Store is XCHG, a read too

func (w window) Read8(off uint32) uint8   { return load8((*uint8)(w.ptr(off, 1))) }
func (w window) Read16(off uint32) uint16 { return load16((*uint16)(w.ptr(off, 2))) }
func (w window) Read32(off uint32) uint32 { return atomic.LoadUint32((*uint32)(w.ptr(off, 4))) }
func (w window) Write8(off uint32, v uint8) {
	store8((*uint8)(w.ptr(off, 1)), v)
}
func (w window) Write16(off uint32, v uint16) {
	store16((*uint16)(w.ptr(off, 2)), v)
}
func (w window) Write32(off uint32, v uint32) {
	store32((*uint32)(w.ptr(off, 4)), v)
}
