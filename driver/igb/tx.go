package igb

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
)

// txQueue is one TX ring, touched only by the queue's TX goroutine
// (TxBurst, Reclaim), and by init/Close when no TX runs.
//
// Invariant: the frames in flight are in slots [clean, tail) modulo n, at
// most n-1 of them, so TDT == TDH means "all sent" and never "ring full".
type txQueue struct {
	nic     *NIC
	q       int
	ring    *dma.Region
	desc    []byte
	n       int
	clean   int // oldest slot not yet reclaimed
	next    int // next slot to use
	tail    int // the value TDT last got: [tail, next) wait for the doorbell
	bufs    []uint32
	scratch [64]uint32
	// rs[rsHead..rsTail) (modulo n) are the slots with RS set, oldest
	// first: where DD comes back.
	rs             []int
	rsHead, rsTail int
	unreported     int // descriptors queued since the last with RS
	batch          int // SetTxBatch; <= 1 rings the doorbell per TxBurst
}

// TxRSThresh is how many descriptors share one RS bit (DPDK's
// tx_rs_thresh); see TxBurst.
const TxRSThresh = 32

func (t *txQueue) init(n *NIC, q int) {
	t.nic, t.q, t.n = n, q, n.opts.TxRingSize
	t.desc = t.ring.Bytes()[:t.n*DescSize]
	t.bufs = make([]uint32, t.n)
	t.rs = make([]int, t.n)
	for i := range t.bufs {
		t.bufs[i] = driver.NoBuf
	}
}

// TxBurst queues frames on queue q, one advanced data descriptor each, up
// to the first it cannot take (ring full, Len 0 or above BufSize, a buffer
// not in the pool) (driver.NIC). It writes TDT once, or with SetTxBatch only
// once that many frames wait for it, or the ring is full (FlushTx rings it
// for the rest).
//
// RS is set on every TxRSThresh-th descriptor (DPDK's tx_rs_thresh) and on
// the last before each doorbell, so that the buffers of every frame the NIC
// was told of come back even when traffic stops; with batching under load
// both fall on one descriptor in 32. Reclaim reads only those descriptors.
func (n *NIC) TxBurst(q int, pkts []driver.TxDesc) int {
	t := &n.tx[q]
	nbufs := uint32(n.pool.Len())
	k := 0
	full := false
	for _, p := range pkts {
		if p.Len == 0 || p.Len > driver.BufSize || p.Buf >= nbufs {
			break
		}
		if (t.next+1)%t.n == t.clean {
			full = true
			break
		}
		d := t.desc[t.next*DescSize : (t.next+1)*DescSize]
		binary.LittleEndian.PutUint64(d[txdAddr:], n.pool.Addr(p.Buf))
		binary.LittleEndian.PutUint32(d[txdCmdTypeLen:], uint32(p.Len)|ADVTXD_DTYP_DATA|
			ADVTXD_DCMD_DEXT|ADVTXD_DCMD_EOP|ADVTXD_DCMD_IFCS)
		// olinfo last: it is where DD comes back, and PAYLEN clears it.
		store32(d, txdOlinfo, uint32(p.Len)<<ADVTXD_PAYLEN_SHIFT)
		t.bufs[t.next] = p.Buf
		if t.unreported++; t.unreported == TxRSThresh {
			t.markRS(t.next)
		}
		t.next = (t.next + 1) % t.n
		k++
	}
	waiting := (t.next - t.tail + t.n) % t.n
	if waiting > 0 && (t.batch <= 1 || waiting >= t.batch || full) {
		t.flush()
	}
	return k
}

// markRS sets RS on slot i, which the NIC has not been told of yet.
func (t *txQueue) markRS(i int) {
	d := t.desc[i*DescSize : (i+1)*DescSize]
	c := binary.LittleEndian.Uint32(d[txdCmdTypeLen:])
	binary.LittleEndian.PutUint32(d[txdCmdTypeLen:], c|ADVTXD_DCMD_RS)
	t.rs[t.rsTail] = i
	t.rsTail = (t.rsTail + 1) % t.n
	t.unreported = 0
}

// flush rings the doorbell for [tail, next): RS on the last, one TDT write.
func (t *txQueue) flush() {
	if t.next == t.tail {
		return
	}
	if t.unreported > 0 {
		t.markRS((t.next - 1 + t.n) % t.n)
	}
	t.tail = t.next
	t.nic.wr(TDT(t.q), uint32(t.tail))
}

// SetTxBatch makes TxBurst ring each queue's doorbell only once batch frames
// wait for it (a busy-polling caller, which calls FlushTx when it runs out
// of work); 0 or 1 rings it on every TxBurst, the default. Call it before
// the TX paths run.
func (n *NIC) SetTxBatch(batch int) {
	for q := range n.tx {
		n.tx[q].batch = batch
	}
}

// FlushTx rings queue q's doorbell for frames that wait for it.
func (n *NIC) FlushTx(q int) { n.tx[q].flush() }

// TxWaiting is how many of queue q's frames wait for the doorbell.
func (n *NIC) TxWaiting(q int) int { t := &n.tx[q]; return (t.next - t.tail + t.n) % t.n }

// Reclaim returns the buffers of sent frames of queue q to the pool
// (driver.NIC). It reads no register: it looks at the descriptors with RS,
// oldest first, and when one has DD frees every buffer up to it.
func (n *NIC) Reclaim(q int) int {
	t := &n.tx[q]
	total, k := 0, 0
	for t.rsHead != t.rsTail {
		j := t.rs[t.rsHead]
		if load32(t.desc[j*DescSize:(j+1)*DescSize], txdOlinfo)&TXD_STAT_DD == 0 {
			break
		}
		t.rsHead = (t.rsHead + 1) % t.n
		for {
			i := t.clean
			t.scratch[k] = t.bufs[i]
			t.bufs[i] = driver.NoBuf
			t.clean = (i + 1) % t.n
			if k++; k == len(t.scratch) {
				n.pool.PutMany(t.scratch[:k])
				total += k
				k = 0
			}
			if i == j {
				break
			}
		}
	}
	n.pool.PutMany(t.scratch[:k])
	return total + k
}

// release gives in-flight buffers back to the pool and frees the ring.
func (t *txQueue) release() {
	if t.ring == nil {
		return
	}
	for i, b := range t.bufs {
		if b != driver.NoBuf {
			t.nic.pool.Put(b)
			t.bufs[i] = driver.NoBuf
		}
	}
	t.ring.Close()
	t.ring = nil
}
