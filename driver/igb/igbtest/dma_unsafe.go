package igbtest

import (
	"sync/atomic"
	"unsafe"
)

// store32 writes the descriptor dword that carries DD with an atomic store,
// as the last write of a write-back: the driver reads it with an atomic
// load, so the race detector sees the release/acquire pairing that DD gives
// on hardware.
func store32(desc []byte, off int, v uint32) {
	w := desc[off : off+4 : off+4]
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&w[0])), v)
}

func load32(desc []byte, off int) uint32 {
	w := desc[off : off+4 : off+4]
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&w[0])))
}
