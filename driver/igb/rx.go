package igb

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/driver"
)

// rxCodec is the advanced one-buffer RX descriptor (82576 7.1.5) for
// driver.RxRing, which keeps each queue's bookkeeping (thresholds, RDT
// writes, buffer records): at most size-1 posted, so RDT is never written
// equal to RDH, which the NIC reads as an empty ring (82576 7.1.4.3).
type rxCodec struct{}

// Post writes the packet address, then the header address, which is where
// DD comes back: cleared last.
func (rxCodec) Post(d []byte, addr uint64) {
	binary.LittleEndian.PutUint64(d[rxdPktAddr:], addr)
	store32(d, rxdHdrAddr+4, 0)
	store32(d, rxdHdrAddr, 0)
}

// Done reads the extended status and errors in one acquire load (load32),
// then the length: clamped to BufSize (with RXE) when the NIC reports more.
func (rxCodec) Done(d []byte, rx *driver.RxDesc) (bool, bool) {
	se := load32(d, rxdStatusErr)
	if se&RXD_STAT_DD == 0 {
		return false, false
	}
	length := binary.LittleEndian.Uint16(d[rxdLength:])
	if length > driver.BufSize {
		length = driver.BufSize
		se |= RXDEXT_STATERR_RXE
	}
	*rx = driver.RxDesc{
		Len:    length,
		Status: uint8(se),
		Errors: uint8(se >> RXDEXT_ERR_SHIFT),
		VLAN:   binary.LittleEndian.Uint16(d[rxdVLAN:]),
	}
	return se&RXD_STAT_EOP != 0, true
}

// RxBurst harvests up to len(out) frames of queue q (driver.NIC). A frame
// spanning descriptors, impossible with 2 KiB buffers and LPE off, is
// returned flagged driver.RxIncomplete.
func (n *NIC) RxBurst(q int, out []driver.RxDesc) int { return n.rx[q].Burst(out) }

// Refill posts free pool buffers to queue q's ring (driver.NIC). It writes
// RDT once driver.RxFreeThresh buffers wait, or at once when the NIC runs
// low.
func (n *NIC) Refill(q int) int { return n.rx[q].Refill() }

// FlushRx hands queue q's posted buffers that wait for the RDT write to
// the NIC (none: nothing is written).
func (n *NIC) FlushRx(q int) { n.rx[q].Flush() }

// RxWaiting is how many of queue q's posted buffers wait for the RDT write.
func (n *NIC) RxWaiting(q int) int { return n.rx[q].Waiting() }
