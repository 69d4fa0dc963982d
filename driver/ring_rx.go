package driver

import (
	"fmt"

	"github.com/uiodrv/uiodrv/mmio"
)

// RxCodec is what one NIC family says about its RX descriptors; RxRing does
// the bookkeeping every family shares. Both methods run on the packet path
// and must not allocate.
type RxCodec interface {
	// Post writes buffer address addr into descriptor d for the NIC to
	// fill, with the word that carries the done bit cleared last.
	Post(d []byte, addr uint64)
	// Done decodes descriptor d into *rx once the NIC has written it
	// back, and reports whether it had (ok; *rx is untouched while the
	// done bit is clear) and the end-of-packet bit (eop). Every read after
	// the done bit is ordered after it (an acquire load). The length is
	// clamped to BufSize (and the frame flagged in Errors) when the NIC
	// reports more. rx.Buf and rx.Flags are left for the ring.
	Done(d []byte, rx *RxDesc) (eop, ok bool)
}

// RxFreeThresh is how many posted RX buffers may wait before the ring
// writes its tail register (DPDK's rx_free_thresh); rings of fewer than 128
// descriptors use a quarter of the ring.
const RxFreeThresh = 32

// RxRing is one RX descriptor ring's bookkeeping, shared by every family:
// which buffer sits in which slot, posting free pool buffers, harvesting
// written-back descriptors, and when to write the tail register.
//
// Invariant: the posted slots are [next, tail) modulo the ring size, at most
// size-1 of them, so the tail written never equals the NIC's head, which it
// reads as "no free descriptors". bufs[i] is the buffer in slot i: the
// driver's own record, never read back from the device. The NIC sees
// [next, rdt); [rdt, tail) are posted and wait for the tail write.
//
// Burst, Refill, Pending and Flush are the ring's RX path: one goroutine at
// a time, no lock, no allocation. Stop and Start (a reset) may run from
// another goroutine: while stopped the path does nothing.
type RxRing struct {
	codec   RxCodec
	pool    *BufPool
	regs    mmio.Regs
	tailReg uint32
	desc    []byte
	dsize   uint32
	size    uint32
	next    uint32 // next slot to harvest
	tail    uint32 // next slot to fill
	rdt     uint32 // the value the tail register last got
	thresh  uint32
	// inFrame: Burst returned a descriptor without end of packet; the
	// frame's later descriptors (up to the one with it) are freed, not
	// returned.
	inFrame bool
	bufs    []uint32
	scratch [64]uint32
	g       gate
}

// NewRxRing sets up the bookkeeping of a ring of size descriptors of dsize
// bytes in desc, posting buffers from pool, with its tail register at
// tailReg of regs. The ring starts empty: Refill posts.
func NewRxRing(codec RxCodec, pool *BufPool, regs mmio.Regs, tailReg uint32, desc []byte, size, dsize int) (*RxRing, error) {
	if size < 2 || len(desc) < size*dsize {
		return nil, fmt.Errorf("%w: RX ring of %d descriptors of %d bytes in %d bytes", ErrBadConfig, size, dsize, len(desc))
	}
	r := &RxRing{codec: codec, pool: pool, regs: regs, tailReg: tailReg, desc: desc[:size*dsize],
		dsize: uint32(dsize), size: uint32(size), thresh: uint32(min(RxFreeThresh, size/4)),
		bufs: make([]uint32, size)}
	for i := range r.bufs {
		r.bufs[i] = NoBuf
	}
	clear(r.desc)
	return r, nil
}

func (r *RxRing) slot(i uint32) []byte {
	return r.desc[i*r.dsize : (i+1)*r.dsize : (i+1)*r.dsize]
}

func (r *RxRing) inc(i uint32) uint32 {
	if i++; i == r.size {
		return 0
	}
	return i
}

func (r *RxRing) count(from, to uint32) uint32 { return (to + r.size - from) % r.size }

// Burst harvests up to len(out) frames, oldest first, up to the first
// descriptor the NIC has not written back. Their buffers pass to the caller.
// A frame spanning descriptors (impossible with 2 KiB buffers and long
// packets off, but a faulty device may write one) is returned once, its
// first descriptor flagged RxIncomplete; its later buffers go back to the
// pool here.
func (r *RxRing) Burst(out []RxDesc) int {
	if !r.g.enter() {
		return 0
	}
	k := 0
	for k < len(out) && r.next != r.tail {
		i := r.next
		rx := &out[k]
		eop, ok := r.codec.Done(r.slot(i), rx)
		if !ok {
			break
		}
		b := r.bufs[i]
		r.bufs[i] = NoBuf
		r.next = r.inc(i)
		if r.inFrame {
			r.inFrame = !eop
			r.pool.Put(b)
			continue
		}
		rx.Buf, rx.Flags = b, 0
		if !eop {
			r.inFrame = true
			rx.Flags = RxIncomplete
		}
		k++
	}
	r.g.exit()
	return k
}

// Pending reports whether Burst would return a frame (descriptor memory
// only: no register access).
func (r *RxRing) Pending() bool {
	if !r.g.enter() {
		return false
	}
	defer r.g.exit()
	if r.next == r.tail {
		return false
	}
	var rx RxDesc
	_, ok := r.codec.Done(r.slot(r.next), &rx)
	return ok
}

// Refill posts free pool buffers to every empty slot it can and returns how
// many. The tail write (a trap into QEMU, or an uncached PCIe round trip)
// happens once thresh posted buffers wait for it, and at once when the NIC
// sees thresh descriptors or fewer ([next, rdt), an upper bound on its free
// ones): a ring running dry, or one refilled after the pool ran empty, is
// told at once.
func (r *RxRing) Refill() int {
	if !r.g.enter() {
		return 0
	}
	posted := r.refill()
	r.g.exit()
	return posted
}

// Prime is Refill for a driver's init and reset, which run while the path
// is stopped (or not yet started): it posts through the gate.
func (r *RxRing) Prime() int { return r.refill() }

func (r *RxRing) refill() int {
	posted := 0
	for {
		free := r.size - 1 - r.count(r.next, r.tail)
		if free == 0 {
			break
		}
		k := r.pool.GetMany(r.scratch[:min(free, uint32(len(r.scratch)))])
		if k == 0 {
			break
		}
		for _, b := range r.scratch[:k] {
			r.codec.Post(r.slot(r.tail), r.pool.Addr(b))
			r.bufs[r.tail] = b
			r.tail = r.inc(r.tail)
		}
		posted += k
	}
	waiting, visible := r.count(r.rdt, r.tail), r.count(r.next, r.rdt)
	if waiting > 0 && (waiting >= r.thresh || visible <= r.thresh) {
		r.flush()
	}
	return posted
}

// Flush tells the NIC of every posted buffer it has not been told of (one
// tail write; none when there is nothing new).
func (r *RxRing) Flush() {
	if r.g.enter() {
		r.flush()
		r.g.exit()
	}
}

// flush hands [rdt, tail) to the NIC. The descriptor stores reach memory
// before the tail write: x86 keeps stores in order, also towards a device
// and the uncached MMIO store, and the call through mmio.Regs is a compiler
// barrier. No fence is needed on amd64.
func (r *RxRing) flush() {
	if r.rdt != r.tail {
		r.rdt = r.tail
		r.regs.Write32(r.tailReg, r.tail)
	}
}

// Waiting is how many posted buffers wait for the tail write.
func (r *RxRing) Waiting() int { return int(r.count(r.rdt, r.tail)) }

// Posted is how many buffers the ring holds.
func (r *RxRing) Posted() int { return int(r.count(r.next, r.tail)) }

// Stop makes the RX path do nothing and waits for a burst in progress.
func (r *RxRing) Stop() { r.g.stop() }

// Start lets the RX path run again.
func (r *RxRing) Start() { r.g.start() }

// Release gives every posted buffer back to the pool and empties the ring
// (descriptors cleared, indices 0), as a reset leaves the NIC's. The RX
// path must be stopped, or not running.
func (r *RxRing) Release() {
	for i, b := range r.bufs {
		if b != NoBuf {
			r.pool.Put(b)
			r.bufs[i] = NoBuf
		}
	}
	clear(r.desc)
	r.next, r.tail, r.rdt, r.inFrame = 0, 0, 0, false
}
