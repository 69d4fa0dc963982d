package igb

import (
	"sync/atomic"
	"unsafe"
)

// load32 reads the descriptor dword at b[off:off+4] with one atomic load.
//
// It is used for the dword that carries DD (RX status_error at offset 8, TX
// status at offset 12), which the NIC writes by DMA after the rest of the
// write-back. The atomic load is the acquire the RX and TX paths need: one
// 4-byte MOV on amd64, never torn; the compiler does not move the later plain
// loads (the length) above it, and x86 does not reorder loads with loads.
// off must be 4-byte aligned in memory (rings are checked in allocate); the
// value is native-endian, and New is only built for little-endian hosts.
func load32(b []byte, off int) uint32 {
	w := b[off : off+4 : off+4]
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&w[0])))
}

// store32 writes a descriptor dword with an atomic store, so that a fake
// device that reads it with load32 from another goroutine is ordered after
// it under the race detector. (On hardware the tail write orders it.)
func store32(b []byte, off int, v uint32) {
	w := b[off : off+4 : off+4]
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&w[0])), v)
}

// aligned reports whether b's first byte is aligned to a bytes.
func aligned(b []byte, a uintptr) bool {
	return len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))&(a-1) == 0
}
