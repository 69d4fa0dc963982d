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
	tail    int // next slot to use; the value TDT last got
	bufs    []uint32
	scratch [64]uint32
}

func (t *txQueue) init(n *NIC, q int) {
	t.nic, t.q, t.n = n, q, n.opts.TxRingSize
	t.desc = t.ring.Bytes()[:t.n*DescSize]
	t.bufs = make([]uint32, t.n)
	for i := range t.bufs {
		t.bufs[i] = driver.NoBuf
	}
}

// TxBurst queues frames on queue q, one advanced data descriptor each, up
// to the first it cannot take (ring full, Len 0 or above BufSize, a buffer
// not in the pool), and writes TDT once (driver.NIC).
func (n *NIC) TxBurst(q int, pkts []driver.TxDesc) int {
	t := &n.tx[q]
	nbufs := uint32(n.pool.Len())
	k := 0
	for _, p := range pkts {
		if p.Len == 0 || p.Len > driver.BufSize || p.Buf >= nbufs {
			break
		}
		if (t.tail+1)%t.n == t.clean {
			break // full
		}
		d := t.desc[t.tail*DescSize : (t.tail+1)*DescSize]
		binary.LittleEndian.PutUint64(d[txdAddr:], n.pool.Addr(p.Buf))
		binary.LittleEndian.PutUint32(d[txdCmdTypeLen:], uint32(p.Len)|ADVTXD_DTYP_DATA|
			ADVTXD_DCMD_DEXT|ADVTXD_DCMD_EOP|ADVTXD_DCMD_IFCS|ADVTXD_DCMD_RS)
		// olinfo last: it is where DD comes back, and PAYLEN clears it.
		store32(d, txdOlinfo, uint32(p.Len)<<ADVTXD_PAYLEN_SHIFT)
		t.bufs[t.tail] = p.Buf
		t.tail = (t.tail + 1) % t.n
		k++
	}
	if k > 0 {
		n.wr(TDT(q), uint32(t.tail))
	}
	return k
}

// Reclaim returns the buffers of sent frames of queue q to the pool
// (driver.NIC): every descriptor has RS, so each reports DD.
func (n *NIC) Reclaim(q int) int {
	t := &n.tx[q]
	total, k := 0, 0
	for t.clean != t.tail {
		d := t.desc[t.clean*DescSize : (t.clean+1)*DescSize]
		if load32(d, txdOlinfo)&TXD_STAT_DD == 0 {
			break
		}
		t.scratch[k] = t.bufs[t.clean]
		t.bufs[t.clean] = driver.NoBuf
		t.clean = (t.clean + 1) % t.n
		if k++; k == len(t.scratch) {
			n.pool.PutMany(t.scratch[:k])
			total += k
			k = 0
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
