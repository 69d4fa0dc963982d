package e1000

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/driver"
)

// rxCodec is the legacy RX descriptor (SDM 3.2.3) for driver.RxRing, which
// keeps the ring's bookkeeping (thresholds, tail writes, buffer records).
//
// Descriptors come from the device and are untrusted: a length above
// BufSize is clamped and flagged RXD_ERR_RXE; the buffer index is the
// ring's own record, never read from the descriptor.
type rxCodec struct{}

// Post writes the address, then zeroes length, checksum, status, errors and
// special: DD must read 0 until the NIC writes this descriptor back.
func (rxCodec) Post(d []byte, addr uint64) {
	binary.LittleEndian.PutUint64(d[descAddr:], addr)
	binary.LittleEndian.PutUint64(d[descLen:], 0)
}

// Done reads status, errors and special in one acquire load; only after DD
// is seen are length and checksum read (see load32).
func (rxCodec) Done(d []byte, rx *driver.RxDesc) (bool, bool) {
	w := load32(d, descStatus)
	status := uint8(w)
	if status&RXD_STAT_DD == 0 {
		return false, false
	}
	errs := uint8(w >> 8)
	length := binary.LittleEndian.Uint16(d[descLen:])
	if length > BufSize {
		length = BufSize
		errs |= RXD_ERR_RXE
	}
	*rx = driver.RxDesc{Len: length, Status: status, Errors: errs, VLAN: uint16(w >> 16)}
	return status&RXD_STAT_EOP != 0, true
}

// RxBurst harvests up to len(out) frames (driver.NIC). A frame never spans
// descriptors with 2 KiB buffers and long packets off (RCTL.LPE clear,
// SDM 3.2.3); one that does is returned flagged driver.RxIncomplete and its
// later buffers go back to the pool.
func (n *NIC) RxBurst(_ int, out []driver.RxDesc) int { return n.rx.Burst(out) }

// Refill posts free pool buffers (driver.NIC). RDT is written once
// RxFreeThresh buffers wait for it, or at once when the NIC sees that many
// descriptors or fewer (driver.RxRing.Refill).
func (n *NIC) Refill(int) int { return n.rx.Refill() }
