package virtio

import (
	"sync/atomic"
	"unsafe"
)

// The first 32 bits of the avail ring (flags, idx) and of the used ring
// (flags, idx) are shared with the device and, for the avail flags, between
// goroutines (SetIRQ beside the packet path). They are read and written as
// one aligned 32-bit word with atomics: an atomic load orders every later
// read of used entries after the index that published them (acquire), and
// the compare-and-swap that publishes a new avail index is a locked
// instruction on amd64, a full barrier: the descriptors and avail entries
// written before it are visible to the device first (virtio 1.2 2.7.13.3:
// "the driver performs a suitable memory barrier before the idx update"),
// and the read of the used flags after it (to decide whether to notify)
// cannot pass it (2.7.13.4, "before checking for notification suppression").

func word(ring []byte) *uint32 {
	_ = ring[3]
	return (*uint32)(unsafe.Pointer(&ring[0]))
}

// loadRingHead returns flags and idx of an avail or used ring.
func loadRingHead(ring []byte) (flags, idx uint16) {
	v := atomic.LoadUint32(word(ring))
	return uint16(v), uint16(v >> 16)
}

// setAvailIdx publishes idx as the avail ring's index, keeping its flags.
func setAvailIdx(ring []byte, idx uint16) {
	p := word(ring)
	for {
		old := atomic.LoadUint32(p)
		if atomic.CompareAndSwapUint32(p, old, old&0xFFFF|uint32(idx)<<16) {
			return
		}
	}
}

// clearRingHead zeroes a used ring's flags and index (the device is reset).
func clearRingHead(ring []byte) { atomic.StoreUint32(word(ring), 0) }

// setAvailFlags sets (on) or clears flag bits f of the avail ring, keeping
// its index.
func setAvailFlags(ring []byte, f uint16, on bool) {
	p := word(ring)
	for {
		old := atomic.LoadUint32(p)
		nw := old &^ uint32(f)
		if on {
			nw |= uint32(f)
		}
		if atomic.CompareAndSwapUint32(p, old, nw) {
			return
		}
	}
}
