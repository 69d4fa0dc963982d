package e1000

import (
	"encoding/binary"
	"fmt"
)

// txCmd is the command of every TX descriptor: a whole frame (EOP) with the
// CRC appended by the NIC (IFCS). RS (report status: write DD back when
// sent, SDM 3.3.3.1) is set on a few descriptors only, see TxBurst.
const txCmd = TXD_CMD_EOP | TXD_CMD_IFCS

// descCmd is the byte of a legacy TX descriptor that holds CMD (SDM 3.3.3).
const descCmd = 11

// TxRSThresh is how many descriptors share one RS bit (DPDK's
// tx_rs_thresh): the NIC writes DD back on every TxRSThresh-th descriptor,
// and ReclaimTx frees the buffers up to it at once.
const TxRSThresh = 32

// TxBurst queues frames for transmission, one descriptor each, in order, as
// many as the ring has room for. It returns how many it queued: frames
// pkts[:k] now belong to the NIC until ReclaimTx frees their buffers; the
// caller still owns pkts[k:]. It allocates nothing.
//
// The doorbell (TDT, a trap into QEMU or a PCIe round trip) is written once
// per call, unless SetTxBatch asked for batching: then only once TxBatch
// frames wait for it, or when the ring is full, and FlushTx writes it for
// the rest.
//
// RS is set on every TxRSThresh-th descriptor and on the last one before
// each doorbell. The first bounds the work per reclaim; the second is for
// progress: every descriptor the NIC was told of is followed by one that
// reports, so when traffic stops every buffer still comes back. (DPDK's
// tx_rs_thresh alone leaves up to 31 buffers in the ring until more frames
// are sent; with a finite pool shared with the RX ring that is a leak.)
// Under load with batching both fall on the same descriptor: one write-back
// per 32 frames.
//
// The ring holds at most TxRingSize-1 frames: TDT == TDH means "empty" to
// the NIC (SDM 3.4). A Buf out of range or a Len of 0 or above BufSize is a
// programming error and panics.
func (n *NIC) TxBurst(pkts []TxPacket) int {
	inFlight := (n.txNext - n.txClean) & n.txMask
	room := int(n.txMask - inFlight)
	k := min(room, len(pkts))
	t := n.txNext
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
		n.txNext = (t + 1) & n.txMask
		if n.txUnreported++; n.txUnreported == TxRSThresh {
			n.markRS(t)
		}
		t = n.txNext
	}
	waiting := int((n.txNext - n.txTail) & n.txMask)
	if waiting > 0 && (n.txBatch <= 1 || waiting >= n.txBatch || k < len(pkts)) {
		n.FlushTx()
	}
	return k
}

// markRS sets RS on descriptor i, which the NIC has not been told of yet,
// and records it for ReclaimTx.
func (n *NIC) markRS(i uint32) {
	n.txDescs[i*DescSize+descCmd] |= TXD_CMD_RS
	n.txRS[n.txRSTail&n.txMask] = i
	n.txRSTail++
	n.txUnreported = 0
}

// FlushTx rings the TX doorbell for frames TxBurst queued without it (see
// SetTxBatch): RS on the last of them, then one TDT write. It does nothing
// when no frame waits.
func (n *NIC) FlushTx() {
	if n.txNext == n.txTail {
		return
	}
	if n.txUnreported > 0 {
		n.markRS((n.txNext - 1) & n.txMask)
	}
	n.txTail = n.txNext
	// Descriptor stores are visible before the tail write: see writeRDT.
	n.wr(TDT(0), n.txTail)
}

// SetTxBatch makes TxBurst ring the doorbell only once batch frames wait
// for it (a busy-polling caller, which then calls FlushTx when it finds no
// more work); 0 or 1 rings it on every TxBurst (the default). It must be
// called from the TX path.
func (n *NIC) SetTxBatch(batch int) { n.txBatch = batch }

// TxWaiting is how many queued frames wait for the doorbell (FlushTx).
func (n *NIC) TxWaiting() int { return int((n.txNext - n.txTail) & n.txMask) }

// ReclaimTx frees the buffers of transmitted frames, oldest first, and
// returns how many. It reads no register: it looks only at the descriptors
// that carry RS, oldest first, and when one has DD (SDM 3.3.3.2) frees every
// buffer up to it; descriptors without RS get no write-back. The buffers go
// back to the pool under one lock. It allocates nothing.
func (n *NIC) ReclaimTx() int {
	c := 0
	for n.txRSHead != n.txRSTail {
		j := n.txRS[n.txRSHead&n.txMask]
		d := n.txDescs[j*DescSize : j*DescSize+DescSize : j*DescSize+DescSize]
		if uint8(load32(d, descStatus))&TXD_STAT_DD == 0 {
			break
		}
		n.txRSHead++
		for {
			i := n.txClean
			n.txFree[c] = n.txBufs[i]
			c++
			n.txBufs[i] = noBuf
			n.txClean = (i + 1) & n.txMask
			if i == j {
				break
			}
		}
	}
	n.pool.PutMany(n.txFree[:c])
	return c
}

// TxInFlight returns the number of queued frames not yet reclaimed.
func (n *NIC) TxInFlight() int { return int((n.txNext - n.txClean) & n.txMask) }
