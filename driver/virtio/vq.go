package virtio

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
)

// vq is one split virtqueue (virtio 1.2 2.7) carrying packet buffers. Each
// frame is a chain of two descriptors fixed at setup: descriptor 2s holds
// slot s's 12-byte virtio-net header in the queue's own header area, 2s+1
// the pool buffer with the frame. So the frame starts at offset 0 of its
// buffer, as the core's Packet(b, n) maps it, and the header never takes
// room from the frame (VERSION_1 lets the driver lay out a frame over any
// descriptors, 5.1.6.6). A queue of size descriptors has size/2 slots.
//
// Free slots wait in a FIFO; bufs[s] is the buffer in slot s, the driver's
// own record: the used ring's id only names the slot.
//
// Every method but kick and pending runs on the queue's own path (RX or
// TX): one goroutine at a time.
type vq struct {
	index uint16 // queue index on the device
	size  uint16 // descriptors
	mem   *dma.Region
	desc  []byte
	avail []byte
	used  []byte
	hdr   []byte // slots × NetHdrSize (16-byte stride)

	notify    Regs
	notifyOff uint32
	availIdx  uint16 // next avail index the driver writes
	lastUsed  uint16 // next used index the driver reads
	seen      atomic.Uint32
	bufs      []uint32
	free      []uint16 // FIFO of free slots
	freeHead  uint32
	freeN     uint32
	bad       atomic.Uint64 // used entries naming no posted slot
	notifies  atomic.Uint64
	pub       atomic.Uint32 // the avail index last published, for CheckHang
	g         gate          // Reinit stops the queue's path with it
	write     bool          // the device writes the buffers (RX)
}

// vqLayout returns the offsets of a split virtqueue's parts in one region:
// the descriptor table (16-byte aligned), avail ring (2), used ring (4) and
// the header area (16), and the total length.
func vqLayout(size int) (avail, used, hdr, total int) {
	avail = DescSize * size
	used = (avail + 6 + 2*size + 3) &^ 3
	hdr = (used + 6 + UsedElemSize*size + 15) &^ 15
	total = hdr + 16*(size/2)
	return
}

// newVQ allocates queue index of size descriptors (a power of two) and
// links its descriptor pairs; write says the device writes the buffers (RX).
func newVQ(alloc dma.Allocator, index uint16, size int, write bool) (*vq, error) {
	availOff, usedOff, hdrOff, total := vqLayout(size)
	mem, err := alloc.Alloc(total)
	if err != nil {
		return nil, fmt.Errorf("allocate virtqueue %d (%d bytes): %w", index, total, err)
	}
	if !mem.Contiguous() && mem.Segment() < total {
		mem.Close()
		return nil, fmt.Errorf("virtqueue %d: %d bytes of DMA memory are not contiguous", index, total)
	}
	b := mem.Bytes()
	clear(b[:total])
	q := &vq{index: index, size: uint16(size), mem: mem,
		desc: b[:availOff], avail: b[availOff:usedOff], used: b[usedOff:hdrOff], hdr: b[hdrOff:total],
		bufs: make([]uint32, size/2), free: make([]uint16, size/2), write: write}
	for s := range q.bufs {
		q.bufs[s] = driver.NoBuf
	}
	q.link()
	return q, nil
}

// link lays out the descriptor pairs and frees every slot: the ring as
// newVQ makes it. Every slot's buffer must be NoBuf.
func (q *vq) link() {
	_, _, hdrOff, _ := vqLayout(int(q.size))
	var f uint16
	if q.write {
		f = DescFWrite
	}
	for s := range q.bufs {
		q.putDesc(2*s, q.mem.AddrOf(hdrOff+16*s), NetHdrSize, f|DescFNext, uint16(2*s+1))
		q.putDesc(2*s+1, 0, 0, f, 0)
		q.free[s] = uint16(s)
	}
	q.freeHead, q.freeN = 0, uint32(len(q.free))
}

// rewind returns every buffer in the ring to pool and makes the ring empty
// again, for a device that was reset. The avail ring's flags (interrupt
// suppression) are kept.
func (q *vq) rewind(pool *driver.BufPool) {
	for s, b := range q.bufs {
		if b != driver.NoBuf {
			pool.PutMany([]uint32{b})
			q.bufs[s] = driver.NoBuf
		}
	}
	q.link()
	q.availIdx, q.lastUsed = 0, 0
	q.seen.Store(0)
	q.pub.Store(0)
	setAvailIdx(q.avail, 0)
	clearRingHead(q.used)
	clear(q.used[4:])
}

func (q *vq) slots() int { return int(q.size) / 2 }

func (q *vq) putDesc(i int, addr uint64, n uint32, flags, next uint16) {
	d := q.desc[DescSize*i : DescSize*(i+1)]
	binary.LittleEndian.PutUint64(d[0:], addr)
	binary.LittleEndian.PutUint32(d[8:], n)
	binary.LittleEndian.PutUint16(d[12:], flags)
	binary.LittleEndian.PutUint16(d[14:], next)
}

// post puts buffer b of n bytes in a free slot and queues its chain in the
// avail ring, unpublished until publish. It reports false when no slot is
// free.
func (q *vq) post(b uint32, addr uint64, n uint32) bool {
	if q.freeN == 0 {
		return false
	}
	s := q.free[q.freeHead]
	q.freeHead = (q.freeHead + 1) % uint32(len(q.free))
	q.freeN--
	q.bufs[s] = b
	d := q.desc[DescSize*(2*int(s)+1):]
	binary.LittleEndian.PutUint64(d[0:], addr)
	binary.LittleEndian.PutUint32(d[8:], n)
	binary.LittleEndian.PutUint16(q.avail[4+2*(q.availIdx%q.size):], 2*s)
	q.availIdx++
	return true
}

// publish makes the posted chains visible (the avail index is the
// doorbell's content) and notifies the device unless it asked not to be
// (VIRTQ_USED_F_NO_NOTIFY, 2.7.10): a notification is a trap into the
// hypervisor, the costliest thing on this path.
func (q *vq) publish() {
	setAvailIdx(q.avail, q.availIdx)
	q.pub.Store(uint32(q.availIdx))
	if flags, _ := loadRingHead(q.used); flags&UsedFNoNotify == 0 {
		q.kick()
	}
}

// kick writes the queue's index to its notification address (4.1.4.4).
func (q *vq) kick() {
	q.notify.Write16(q.notifyOff, q.index)
	q.notifies.Add(1)
}

// next returns the next used chain's buffer and length written by the
// device, freeing its slot, or ok false when the device has used nothing
// new. Entries naming no posted slot are counted and skipped.
func (q *vq) next(usedIdx uint16) (b uint32, n uint32, ok bool) {
	for q.lastUsed != usedIdx {
		e := q.used[4+UsedElemSize*int(q.lastUsed%q.size):]
		id := binary.LittleEndian.Uint32(e[0:])
		n = binary.LittleEndian.Uint32(e[4:])
		q.lastUsed++
		s := id / 2
		if id%2 != 0 || s >= uint32(len(q.bufs)) || q.bufs[s] == driver.NoBuf {
			q.bad.Add(1)
			continue
		}
		b = q.bufs[s]
		q.bufs[s] = driver.NoBuf
		q.free[(q.freeHead+q.freeN)%uint32(len(q.free))] = uint16(s)
		q.freeN++
		return b, n, true
	}
	return 0, 0, false
}

// usedIdx is the device's used index (an acquire load).
func (q *vq) usedIdx() uint16 {
	_, idx := loadRingHead(q.used)
	return idx
}

// done publishes how far the path consumed, for pending.
func (q *vq) done() { q.seen.Store(uint32(q.lastUsed)) }

// pending reports used entries the path has not consumed (any goroutine).
func (q *vq) pending() bool { return uint32(q.usedIdx()) != q.seen.Load() }

// suppress sets or clears VIRTQ_AVAIL_F_NO_INTERRUPT (2.7.7).
func (q *vq) suppress(on bool) { setAvailFlags(q.avail, AvailFNoIntr, on) }

// release returns every buffer still in a slot to pool and frees the ring.
// The device must be reset first.
func (q *vq) release(pool *driver.BufPool) {
	for s, b := range q.bufs {
		if b != driver.NoBuf {
			pool.PutMany([]uint32{b})
			q.bufs[s] = driver.NoBuf
		}
	}
	q.mem.Close()
}
