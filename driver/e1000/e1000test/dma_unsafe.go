package e1000test

import (
	"sync/atomic"
	"unsafe"
)

// storeStatus writes the descriptor dword at offset 12 (status, errors,
// special) with an atomic store, as the last write of a write-back. The
// driver reads that dword with an atomic load, so the race detector sees
// the same release/acquire pairing that DD gives on real hardware, and the
// fake's earlier writes of the buffer and length happen before the driver
// reads them.
func storeStatus(desc []byte, v uint32) {
	w := desc[12:16:16]
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&w[0])), v)
}

func loadStatus(desc []byte) uint32 {
	w := desc[12:16:16]
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&w[0])))
}
