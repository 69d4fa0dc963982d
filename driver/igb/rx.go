package igb

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
)

// rxQueue is one RX ring. Its fields are touched only by the queue's RX
// goroutine (RxBurst, Refill), and by init/Close when no RX runs.
//
// Invariant: the posted slots are [next, tail) modulo n, and tail+1 != next
// (at most n-1 posted), so RDT is never written equal to RDH, which the NIC
// reads as an empty ring (82576 7.1.4.3). bufs[i] is the buffer in slot i:
// the driver's own record, because the write-back overwrites the address.
type rxQueue struct {
	nic     *NIC
	q       int
	ring    *dma.Region
	desc    []byte
	n       int
	next    int // next slot to harvest
	tail    int // next slot to fill
	rdt     int // the value RDT last got: the NIC sees [next, rdt)
	thresh  int // posted buffers that may wait for the RDT write
	bufs    []uint32
	scratch [64]uint32
	inFrame bool // the last descriptor harvested had no EOP: drop up to the next EOP
}

// RxFreeThresh is how many posted RX buffers may wait before Refill writes
// RDT (DPDK's rx_free_thresh); rings of fewer than 128 descriptors use a
// quarter of the ring.
const RxFreeThresh = 32

func (r *rxQueue) init(n *NIC, q int) {
	r.nic, r.q, r.n = n, q, n.opts.RxRingSize
	r.inFrame = false
	r.thresh = min(RxFreeThresh, r.n/4)
	r.desc = r.ring.Bytes()[:r.n*DescSize]
	r.bufs = make([]uint32, r.n)
	for i := range r.bufs {
		r.bufs[i] = driver.NoBuf
	}
}

// fill posts buffers to every free slot (at init and from Refill). It tells
// the NIC (an RDT write: a trap, or a PCIe round trip) only once thresh
// posted buffers wait for it, or at once when the NIC sees thresh
// descriptors or fewer ([next, rdt), an upper bound on its free ones): a
// ring running dry, or one refilled after the pool ran empty, is told at
// once.
func (r *rxQueue) fill() int {
	posted := 0
	for {
		free := (r.next - r.tail - 1 + r.n) % r.n
		if free == 0 {
			break
		}
		k := r.nic.pool.GetMany(r.scratch[:min(free, len(r.scratch))])
		if k == 0 {
			break
		}
		for _, b := range r.scratch[:k] {
			d := r.desc[r.tail*DescSize : (r.tail+1)*DescSize]
			binary.LittleEndian.PutUint64(d[rxdPktAddr:], r.nic.pool.Addr(b))
			// The header address is where DD comes back: clear it last.
			store32(d, rxdHdrAddr+4, 0)
			store32(d, rxdHdrAddr, 0)
			r.bufs[r.tail] = b
			r.tail = (r.tail + 1) % r.n
		}
		posted += k
	}
	waiting := (r.tail - r.rdt + r.n) % r.n
	visible := (r.rdt - r.next + r.n) % r.n
	if waiting > 0 && (waiting >= r.thresh || visible <= r.thresh) {
		r.flush()
	}
	return posted
}

// flush hands the posted descriptors [rdt, tail) to the NIC.
func (r *rxQueue) flush() {
	if r.rdt == r.tail {
		return
	}
	// The descriptors are written before this MMIO store: x86 keeps
	// stores in order, and the interface call is a compiler barrier.
	r.rdt = r.tail
	r.nic.wr(RDT(r.q), uint32(r.tail))
}

// FlushRx hands queue q's posted buffers that wait for the RDT write to
// the NIC (none: nothing is written).
func (n *NIC) FlushRx(q int) { n.rx[q].flush() }

// RxWaiting is how many of queue q's posted buffers wait for the RDT write.
func (n *NIC) RxWaiting(q int) int { r := &n.rx[q]; return (r.tail - r.rdt + r.n) % r.n }

// RxBurst harvests up to len(out) frames of queue q (driver.NIC).
func (n *NIC) RxBurst(q int, out []driver.RxDesc) int {
	r := &n.rx[q]
	k := 0
	for k < len(out) && r.next != r.tail {
		d := r.desc[r.next*DescSize : (r.next+1)*DescSize]
		se := load32(d, rxdStatusErr)
		if se&RXD_STAT_DD == 0 {
			break
		}
		if r.inFrame {
			// A later piece of a frame whose first descriptor was
			// returned flagged: never a frame of its own. Its buffer
			// goes back to the pool here, up to the piece with EOP.
			r.inFrame = se&RXD_STAT_EOP == 0
			r.nic.pool.Put(r.bufs[r.next])
			r.bufs[r.next] = driver.NoBuf
			r.next = (r.next + 1) % r.n
			continue
		}
		length := binary.LittleEndian.Uint16(d[rxdLength:])
		out[k] = driver.RxDesc{
			Buf:    r.bufs[r.next],
			Len:    min(length, driver.BufSize),
			Status: uint8(se),
			Errors: uint8(se >> RXDEXT_ERR_SHIFT),
			VLAN:   binary.LittleEndian.Uint16(d[rxdVLAN:]),
		}
		// Descriptors are untrusted (as in e1000's RxBurst). A frame that
		// spans descriptors cannot happen with 2 KiB buffers and LPE off,
		// and a length above the buffer is impossible: flag both, so the
		// port drops and counts them rather than pass part of a frame.
		if se&RXD_STAT_EOP == 0 || length > driver.BufSize {
			out[k].Errors |= uint8(RXDEXT_STATERR_RXE >> RXDEXT_ERR_SHIFT)
		}
		r.inFrame = se&RXD_STAT_EOP == 0
		r.bufs[r.next] = driver.NoBuf
		r.next = (r.next + 1) % r.n
		k++
	}
	return k
}

// Refill posts free pool buffers to queue q's ring (driver.NIC). It writes
// RDT once RxFreeThresh buffers wait, or at once when the NIC runs low
// (fill).
func (n *NIC) Refill(q int) int { return n.rx[q].fill() }

// release gives posted buffers back to the pool and frees the ring.
func (r *rxQueue) release() {
	if r.ring == nil {
		return
	}
	for i, b := range r.bufs {
		if b != driver.NoBuf {
			r.nic.pool.Put(b)
			r.bufs[i] = driver.NoBuf
		}
	}
	r.ring.Close()
	r.ring = nil
}
