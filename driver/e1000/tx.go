package e1000

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/driver"
)

// txCmd is the command of every TX descriptor: a whole frame (EOP) with the
// CRC appended by the NIC (IFCS). RS (report status: write DD back when
// sent, SDM 3.3.3.1) is set on a few descriptors only, by driver.TxRing.
const txCmd = TXD_CMD_EOP | TXD_CMD_IFCS

// txCodec is the legacy TX descriptor (SDM 3.3.3) for driver.TxRing.
type txCodec struct{}

// Put writes address, length, CSO 0, CMD, status 0 (DD clear until the NIC
// is done), CSS 0, special 0.
func (txCodec) Put(d []byte, addr uint64, n uint16) {
	binary.LittleEndian.PutUint64(d[descAddr:], addr)
	binary.LittleEndian.PutUint64(d[descLen:], uint64(n)|uint64(txCmd)<<24)
}

func (txCodec) SetRS(d []byte) { d[txdCmd] |= TXD_CMD_RS }

// Sent is DD in the status byte (SDM 3.3.3.2), one acquire load.
func (txCodec) Sent(d []byte) bool { return uint8(load32(d, descStatus))&TXD_STAT_DD != 0 }

// TxBurst queues frames up to the first it cannot take: ring full (at most
// TxRingSize-1 in flight, TDT == TDH means "empty", SDM 3.4), Len 0 or above
// BufSize, a buffer not in the pool (driver.NIC). TDT is written once per
// call, or per SetTxBatch frames.
func (n *NIC) TxBurst(_ int, pkts []driver.TxDesc) int { return n.tx.Burst(pkts) }

// Reclaim returns the buffers of sent frames to the pool (driver.NIC). It
// reads no register, only the descriptors that carry RS.
func (n *NIC) Reclaim(int) int { return n.tx.Reclaim() }

// SetTxBatch makes TxBurst write TDT only once batch frames wait
// (driver.TxBatcher); FlushTx writes it for the rest.
func (n *NIC) SetTxBatch(batch int) { n.tx.SetBatch(batch) }

// FlushTx writes TDT for queued frames that wait for it (driver.TxBatcher).
func (n *NIC) FlushTx(int) { n.tx.Flush() }
