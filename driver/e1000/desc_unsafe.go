package e1000

import (
	"sync/atomic"
	"unsafe"
)

// load32 reads the 32-bit word at b[off:off+4] with one atomic load.
//
// It is used for the descriptor dword that holds the status byte (offset 12),
// which the NIC writes by DMA. The atomic load is the acquire the RX and TX
// paths need: it is one 4-byte MOV on amd64 (a whole status/errors/special
// dword, never torn), the compiler does not move the later plain loads of the
// descriptor's length above it, and x86 does not reorder loads with other
// loads, so the length read after seeing DD is the one the NIC wrote before DD.
//
// off must be 4-byte aligned in memory: descriptor rings are checked in New.
// The value is native-endian; New refuses big-endian hosts.
func load32(b []byte, off int) uint32 {
	w := b[off : off+4 : off+4] // bounds check without a (racy) byte read
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&w[0])))
}

// aligned reports whether b's first byte is aligned to a bytes (a power of two).
func aligned(b []byte, a uintptr) bool {
	return len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))&(a-1) == 0
}
