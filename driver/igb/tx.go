package igb

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/driver"
)

// txCodec is the advanced TX data descriptor (82576 7.2.2.3) for
// driver.TxRing, which keeps each queue's bookkeeping (RS threshold, the
// RS-slot queue, the batched TDT write): at most size-1 in flight, so
// TDT == TDH means "all sent" and never "ring full".
type txCodec struct{}

// Put writes address and command, then olinfo last: it is where DD comes
// back, and PAYLEN clears it.
func (txCodec) Put(d []byte, addr uint64, n uint16) {
	binary.LittleEndian.PutUint64(d[txdAddr:], addr)
	binary.LittleEndian.PutUint32(d[txdCmdTypeLen:], uint32(n)|ADVTXD_DTYP_DATA|
		ADVTXD_DCMD_DEXT|ADVTXD_DCMD_EOP|ADVTXD_DCMD_IFCS)
	store32(d, txdOlinfo, uint32(n)<<ADVTXD_PAYLEN_SHIFT)
}

func (txCodec) SetRS(d []byte) {
	c := binary.LittleEndian.Uint32(d[txdCmdTypeLen:])
	binary.LittleEndian.PutUint32(d[txdCmdTypeLen:], c|ADVTXD_DCMD_RS)
}

func (txCodec) Sent(d []byte) bool { return load32(d, txdOlinfo)&TXD_STAT_DD != 0 }

// TxBurst queues frames on queue q, one advanced data descriptor each, up
// to the first it cannot take (ring full, Len 0 or above BufSize, a buffer
// not in the pool) (driver.NIC). It writes TDT once, or with SetTxBatch only
// once that many frames wait for it, or the ring is full.
func (n *NIC) TxBurst(q int, pkts []driver.TxDesc) int { return n.tx[q].Burst(pkts) }

// SetTxBatch makes TxBurst ring each queue's doorbell only once batch frames
// wait for it (driver.TxBatcher); 0 or 1 rings it on every TxBurst, the
// default. Call it before the TX paths run.
func (n *NIC) SetTxBatch(batch int) {
	for _, t := range n.tx {
		t.SetBatch(batch)
	}
}

// FlushTx rings queue q's doorbell for frames that wait for it.
func (n *NIC) FlushTx(q int) { n.tx[q].Flush() }

// TxWaiting is how many of queue q's frames wait for the doorbell.
func (n *NIC) TxWaiting(q int) int { return n.tx[q].Waiting() }

// Reclaim returns the buffers of sent frames of queue q to the pool
// (driver.NIC). It reads no register, only the descriptors with RS.
func (n *NIC) Reclaim(q int) int { return n.tx[q].Reclaim() }
