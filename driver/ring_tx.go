package driver

import (
	"fmt"
	"sync/atomic"

	"github.com/uiodrv/uiodrv/mmio"
)

// TxCodec is what one NIC family says about its TX descriptors; TxRing does
// the bookkeeping every family shares. The methods run on the packet path
// and must not allocate.
type TxCodec interface {
	// Put writes a whole frame of n bytes at addr into descriptor d, the
	// NIC to append the CRC, with the done bit clear and no report-status.
	Put(d []byte, addr uint64, n uint16)
	// SetRS asks the NIC to write descriptor d back when it is sent.
	SetRS(d []byte)
	// Sent reports whether the NIC wrote back descriptor d (an acquire
	// load of its done bit).
	Sent(d []byte) bool
}

// TxRSThresh is how many descriptors share one report-status bit (DPDK's
// tx_rs_thresh): the NIC writes back every TxRSThresh-th descriptor, and
// Reclaim frees the buffers up to it at once.
const TxRSThresh = 32

// TxRing is one TX descriptor ring's bookkeeping, shared by every family.
//
// Invariant: the frames in flight are in slots [clean, next) modulo the
// ring size, at most size-1 of them, so tail == head means "all sent" to the
// NIC and never "ring full". [tail, next) are queued and wait for the
// doorbell (SetBatch, Flush). rs[rsHead..rsTail) (modulo the size) are the
// slots with report-status set, oldest first: where the done bit comes back.
//
// Burst, Reclaim and Flush are the ring's TX path: one goroutine at a time,
// no lock, no allocation. Stop and Start (a reset) may run from another
// goroutine; InFlight and Tail from any.
type TxRing struct {
	codec      TxCodec
	pool       *BufPool
	regs       mmio.Regs
	tailReg    uint32
	desc       []byte
	dsize      uint32
	size       uint32
	clean      uint32 // oldest slot not yet reclaimed
	next       uint32 // next slot to use
	tail       uint32 // the value the tail register last got
	bufs       []uint32
	rs         []uint32
	rsHead     uint32
	rsTail     uint32
	unreported int // descriptors queued since the last with RS
	batch      int // SetBatch; <= 1 rings the doorbell per Burst
	scratch    [64]uint32
	g          gate
	// told and cleaned mirror tail and clean for a hang check from another
	// goroutine (written once per call, not per frame).
	told, cleaned atomic.Uint32
}

// NewTxRing sets up the bookkeeping of a ring of size descriptors of dsize
// bytes in desc, with its tail register at tailReg of regs.
func NewTxRing(codec TxCodec, pool *BufPool, regs mmio.Regs, tailReg uint32, desc []byte, size, dsize int) (*TxRing, error) {
	if size < 2 || len(desc) < size*dsize {
		return nil, fmt.Errorf("%w: TX ring of %d descriptors of %d bytes in %d bytes", ErrBadConfig, size, dsize, len(desc))
	}
	t := &TxRing{codec: codec, pool: pool, regs: regs, tailReg: tailReg, desc: desc[:size*dsize],
		dsize: uint32(dsize), size: uint32(size), bufs: make([]uint32, size), rs: make([]uint32, size)}
	for i := range t.bufs {
		t.bufs[i] = NoBuf
	}
	clear(t.desc)
	return t, nil
}

func (t *TxRing) slot(i uint32) []byte {
	return t.desc[i*t.dsize : (i+1)*t.dsize : (i+1)*t.dsize]
}

func (t *TxRing) inc(i uint32) uint32 {
	if i++; i == t.size {
		return 0
	}
	return i
}

// Burst queues frames, one descriptor each, up to the first it cannot take
// (ring full, Len 0 or above BufSize, a buffer not in the pool), and returns
// how many: their buffers belong to the NIC until Reclaim. The doorbell is
// rung once per call, or with SetBatch only once that many frames wait or
// the ring is full (Flush rings it for the rest).
//
// RS is set on every TxRSThresh-th descriptor (DPDK's tx_rs_thresh) and on
// the last before each doorbell: the first bounds the work per reclaim; the
// second makes the buffers of every frame the NIC was told of come back
// even when traffic stops (with a finite pool shared with RX, a buffer left
// in the ring is a leak). Under load with batching both fall on one
// descriptor in 32.
func (t *TxRing) Burst(pkts []TxDesc) int {
	if !t.g.enter() {
		return 0
	}
	nbufs := uint32(t.pool.Len())
	k, full := 0, false
	for _, p := range pkts {
		if p.Len == 0 || p.Len > BufSize || p.Buf >= nbufs {
			break
		}
		if t.inc(t.next) == t.clean {
			full = true
			break
		}
		t.codec.Put(t.slot(t.next), t.pool.Addr(p.Buf), p.Len)
		t.bufs[t.next] = p.Buf
		if t.unreported++; t.unreported == TxRSThresh {
			t.markRS(t.next)
		}
		t.next = t.inc(t.next)
		k++
	}
	waiting := int((t.next + t.size - t.tail) % t.size)
	if waiting > 0 && (t.batch <= 1 || waiting >= t.batch || full) {
		t.flush()
	}
	t.g.exit()
	return k
}

// markRS sets RS on slot i, which the NIC has not been told of yet.
func (t *TxRing) markRS(i uint32) {
	t.codec.SetRS(t.slot(i))
	t.rs[t.rsTail] = i
	t.rsTail = t.inc(t.rsTail)
	t.unreported = 0
}

// Flush rings the doorbell for queued frames that wait for it.
func (t *TxRing) Flush() {
	if t.g.enter() {
		t.flush()
		t.g.exit()
	}
}

// flush: RS on the last of [tail, next), then one tail write (the
// descriptor stores are visible first: see RxRing.flush).
func (t *TxRing) flush() {
	if t.next == t.tail {
		return
	}
	if t.unreported > 0 {
		t.markRS((t.next + t.size - 1) % t.size)
	}
	t.tail = t.next
	t.told.Store(t.tail)
	t.regs.Write32(t.tailReg, t.tail)
}

// SetBatch makes Burst ring the doorbell only once batch frames wait (a
// busy-polling caller, which calls Flush when it runs out of work); 0 or 1
// rings it on every Burst, the default. Call it from the TX path.
func (t *TxRing) SetBatch(batch int) { t.batch = batch }

// Reclaim returns the buffers of sent frames to the pool, oldest first, and
// returns how many. It reads no register: it looks only at the descriptors
// with RS, oldest first, and when one is done frees every buffer up to it.
func (t *TxRing) Reclaim() int {
	if !t.g.enter() {
		return 0
	}
	total, k := 0, 0
	for t.rsHead != t.rsTail {
		j := t.rs[t.rsHead]
		if !t.codec.Sent(t.slot(j)) {
			break
		}
		t.rsHead = t.inc(t.rsHead)
		for {
			i := t.clean
			t.scratch[k] = t.bufs[i]
			t.bufs[i] = NoBuf
			t.clean = t.inc(i)
			if k++; k == len(t.scratch) {
				t.pool.PutMany(t.scratch[:k])
				total, k = total+k, 0
			}
			if i == j {
				break
			}
		}
	}
	t.pool.PutMany(t.scratch[:k])
	t.cleaned.Store(t.clean)
	t.g.exit()
	return total + k
}

// Waiting is how many queued frames wait for the doorbell.
func (t *TxRing) Waiting() int { return int((t.next + t.size - t.tail) % t.size) }

// InFlight is how many frames are queued and not yet reclaimed (TX path).
func (t *TxRing) InFlight() int { return int((t.next + t.size - t.clean) % t.size) }

// Told is, safe from any goroutine, the tail last written and how many
// frames the NIC was told of that are not yet reclaimed: what a hang check
// compares with the NIC's head.
func (t *TxRing) Told() (tail uint32, unreclaimed int) {
	tail = t.told.Load()
	return tail, int((tail + t.size - t.cleaned.Load()) % t.size)
}

// Stop makes the TX path do nothing and waits for a burst in progress.
func (t *TxRing) Stop() { t.g.stop() }

// Start lets the TX path run again.
func (t *TxRing) Start() { t.g.start() }

// Release gives every queued frame's buffer back to the pool and empties
// the ring (descriptors cleared, indices 0), as a reset leaves the NIC's.
// The TX path must be stopped, or not running.
func (t *TxRing) Release() {
	for i, b := range t.bufs {
		if b != NoBuf {
			t.pool.Put(b)
			t.bufs[i] = NoBuf
		}
	}
	clear(t.desc)
	t.clean, t.next, t.tail, t.rsHead, t.rsTail, t.unreported = 0, 0, 0, 0, 0, 0
	t.told.Store(0)
	t.cleaned.Store(0)
}
