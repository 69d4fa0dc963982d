package e1000

import (
	"encoding/binary"
	"fmt"
)

// txCmd is the command of every TX descriptor: a whole frame (EOP), CRC
// appended by the NIC (IFCS), and DD written back when sent (RS) so that
// ReclaimTx can see it (SDM 3.3.3.1).
const txCmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS

// TxBurst queues frames for transmission, one descriptor each, in order, as
// many as the ring has room for, and writes TDT once for the batch. It
// returns how many it queued: frames pkts[:k] now belong to the NIC until
// ReclaimTx frees their buffers; the caller still owns pkts[k:]. It
// allocates nothing.
//
// The ring holds at most TxRingSize-1 frames: TDT == TDH means "empty" to
// the NIC (SDM 3.4). A Buf out of range or a Len of 0 or above BufSize is a
// programming error and panics.
func (n *NIC) TxBurst(pkts []TxPacket) int {
	inFlight := (n.txTail - n.txClean) & n.txMask
	room := int(n.txMask - inFlight)
	k := min(room, len(pkts))
	if k == 0 {
		return 0
	}
	t := n.txTail
	for _, p := range pkts[:k] {
		if p.Buf >= n.pool.nbufs || p.Len == 0 || p.Len > BufSize {
			panic(fmt.Sprintf("e1000: TxBurst: bad frame: buffer %d (pool %d), length %d (max %d)",
				p.Buf, n.pool.nbufs, p.Len, BufSize))
		}
		d := n.txDescs[t*DescSize : t*DescSize+DescSize : t*DescSize+DescSize]
		binary.LittleEndian.PutUint64(d[descAddr:], n.pool.addr(p.Buf))
		// length, CSO 0, CMD, status 0 (DD clear until the NIC is done),
		// CSS 0, special 0.
		binary.LittleEndian.PutUint64(d[descLen:], uint64(p.Len)|uint64(txCmd)<<24)
		n.txBufs[t] = p.Buf
		t = (t + 1) & n.txMask
	}
	n.txTail = t
	// Descriptor stores are visible before the tail write: see RefillRx.
	n.wr(TDT(0), t)
	return k
}

// ReclaimTx frees the buffers of transmitted frames, oldest first, stopping
// at the first descriptor without DD (SDM 3.3.3.2), and returns how many.
// The buffers go back to the pool under one lock. It allocates nothing.
func (n *NIC) ReclaimTx() int {
	c := 0
	for n.txClean != n.txTail {
		i := n.txClean
		d := n.txDescs[i*DescSize : i*DescSize+DescSize : i*DescSize+DescSize]
		if uint8(load32(d, descStatus))&TXD_STAT_DD == 0 {
			break
		}
		n.txFree[c] = n.txBufs[i]
		c++
		n.txBufs[i] = noBuf
		n.txClean = (i + 1) & n.txMask
	}
	n.pool.putMany(n.txFree[:c])
	return c
}

// TxInFlight returns the number of queued frames not yet reclaimed.
func (n *NIC) TxInFlight() int { return int((n.txTail - n.txClean) & n.txMask) }
