package virtiotest

import (
	"sync/atomic"
	"unsafe"
)

// The ring heads (flags and idx, one 32-bit word) are shared with the
// driver, which reads and writes them with atomics: the fake does too, so
// the race detector sees the release/acquire pairing the index gives.
func load32(b []byte) uint32 {
	w := b[:4:4]
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&w[0])))
}

func store32(b []byte, v uint32) {
	w := b[:4:4]
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&w[0])), v)
}
