package e1000

import "encoding/binary"

// Legacy descriptor layouts (SDM 3.2.3 and 3.3.3; 82574 7.1.4 and 7.2.10.1).
// Both are 16 bytes, little-endian, and live in DMA memory shared with the
// NIC: everything read from them is untrusted input.
//
//	RX:  0       8      10     12     13     14      16
//	     | addr  | len  | csum | sta  | err  | special |
//	TX:  0       8      10     11     12     13     14      16
//	     | addr  | len  | cso  | cmd  | sta  | css  | special |

// DescSize is the size of a legacy RX or TX descriptor in bytes.
const DescSize = 16

// Byte offsets inside a descriptor.
const (
	descAddr    = 0  // buffer address, 64 bits
	descLen     = 8  // length, 16 bits
	rxdCsum     = 10 // RX: packet checksum, 16 bits
	txdCSO      = 10 // TX: checksum offset, 8 bits
	txdCmd      = 11 // TX: command, 8 bits
	descStatus  = 12 // RX status / TX status (low nibble), 8 bits
	rxdErrors   = 13 // RX: errors, 8 bits
	txdCSS      = 13 // TX: checksum start, 8 bits
	descSpecial = 14 // VLAN tag, 16 bits
)

// RX descriptor status bits (SDM 3.2.3.1).
const (
	RXD_STAT_DD    uint8 = 1 << 0 // Descriptor Done
	RXD_STAT_EOP   uint8 = 1 << 1 // End of Packet
	RXD_STAT_IXSM  uint8 = 1 << 2 // Ignore Checksum Indication
	RXD_STAT_VP    uint8 = 1 << 3 // Packet is 802.1Q (VLAN tag stripped to Special)
	RXD_STAT_TCPCS uint8 = 1 << 5 // TCP Checksum Calculated
	RXD_STAT_IPCS  uint8 = 1 << 6 // IP Checksum Calculated
	RXD_STAT_PIF   uint8 = 1 << 7 // Passed In-exact Filter
)

// RX descriptor error bits (SDM 3.2.3.2).
const (
	RXD_ERR_CE   uint8 = 1 << 0 // CRC or Alignment Error
	RXD_ERR_SE   uint8 = 1 << 1 // Symbol Error
	RXD_ERR_SEQ  uint8 = 1 << 2 // Sequence Error
	RXD_ERR_CXE  uint8 = 1 << 4 // Carrier Extension Error
	RXD_ERR_TCPE uint8 = 1 << 5 // TCP/UDP Checksum Error
	RXD_ERR_IPE  uint8 = 1 << 6 // IP Checksum Error
	RXD_ERR_RXE  uint8 = 1 << 7 // RX Data Error; also set by this driver for a length > BufSize
)

// RXD_ERR_FRAME are the errors that make a frame unusable (Linux's
// E1000_RXD_ERR_FRAME_ERR_MASK plus RXE).
const RXD_ERR_FRAME = RXD_ERR_CE | RXD_ERR_SE | RXD_ERR_SEQ | RXD_ERR_CXE | RXD_ERR_RXE

// TX descriptor command bits (SDM 3.3.3.1). e1000_hw.h defines them shifted
// into the upper byte of the descriptor's lower dword (E1000_TXD_CMD_EOP =
// 0x01000000); here they are the byte at offset 11.
const (
	TXD_CMD_EOP  uint8 = 1 << 0 // End of Packet
	TXD_CMD_IFCS uint8 = 1 << 1 // Insert FCS
	TXD_CMD_IC   uint8 = 1 << 2 // Insert Checksum
	TXD_CMD_RS   uint8 = 1 << 3 // Report Status: write back DD
	TXD_CMD_RPS  uint8 = 1 << 4 // Report Packet Sent (8254x; reserved on 82574)
	TXD_CMD_DEXT uint8 = 1 << 5 // Descriptor Extension (0 = legacy)
	TXD_CMD_VLE  uint8 = 1 << 6 // VLAN Packet Enable
	TXD_CMD_IDE  uint8 = 1 << 7 // Interrupt Delay Enable
)

// TX descriptor status bits (SDM 3.3.3.2), low nibble of byte 12.
const (
	TXD_STAT_DD uint8 = 1 << 0 // Descriptor Done
	TXD_STAT_EC uint8 = 1 << 1 // Excess Collisions
	TXD_STAT_LC uint8 = 1 << 2 // Late Collision
	TXD_STAT_TU uint8 = 1 << 3 // Transmit Underrun (8254x)
)

// RxDesc is a decoded legacy receive descriptor. The driver writes Addr (and
// zeroes the rest); the NIC writes back the other fields.
type RxDesc struct {
	Addr    uint64 // device address of the buffer
	Length  uint16 // bytes DMA'd into the buffer (untrusted)
	Csum    uint16 // packet checksum
	Status  uint8  // RXD_STAT_*
	Errors  uint8  // RXD_ERR_*, valid only with EOP
	Special uint16 // VLAN tag when RXD_STAT_VP
}

// Decode reads a descriptor from b, which must hold DescSize bytes.
func (d *RxDesc) Decode(b []byte) {
	_ = b[DescSize-1]
	d.Addr = binary.LittleEndian.Uint64(b[descAddr:])
	d.Length = binary.LittleEndian.Uint16(b[descLen:])
	d.Csum = binary.LittleEndian.Uint16(b[rxdCsum:])
	d.Status = b[descStatus]
	d.Errors = b[rxdErrors]
	d.Special = binary.LittleEndian.Uint16(b[descSpecial:])
}

// Encode writes the descriptor into b, which must hold DescSize bytes.
func (d *RxDesc) Encode(b []byte) {
	_ = b[DescSize-1]
	binary.LittleEndian.PutUint64(b[descAddr:], d.Addr)
	binary.LittleEndian.PutUint16(b[descLen:], d.Length)
	binary.LittleEndian.PutUint16(b[rxdCsum:], d.Csum)
	b[descStatus] = d.Status
	b[rxdErrors] = d.Errors
	binary.LittleEndian.PutUint16(b[descSpecial:], d.Special)
}

// TxDesc is a decoded legacy transmit descriptor.
type TxDesc struct {
	Addr    uint64 // device address of the frame
	Length  uint16 // bytes to send from Addr
	CSO     uint8  // checksum offset (with TXD_CMD_IC)
	Cmd     uint8  // TXD_CMD_*
	Status  uint8  // TXD_STAT_*, written back by the NIC when TXD_CMD_RS
	CSS     uint8  // checksum start
	Special uint16 // VLAN tag (with TXD_CMD_VLE)
}

// Decode reads a descriptor from b, which must hold DescSize bytes.
func (d *TxDesc) Decode(b []byte) {
	_ = b[DescSize-1]
	d.Addr = binary.LittleEndian.Uint64(b[descAddr:])
	d.Length = binary.LittleEndian.Uint16(b[descLen:])
	d.CSO = b[txdCSO]
	d.Cmd = b[txdCmd]
	d.Status = b[descStatus] & 0x0F // bits 7:4 of byte 12 are reserved
	d.CSS = b[txdCSS]
	d.Special = binary.LittleEndian.Uint16(b[descSpecial:])
}

// Encode writes the descriptor into b, which must hold DescSize bytes.
func (d *TxDesc) Encode(b []byte) {
	_ = b[DescSize-1]
	binary.LittleEndian.PutUint64(b[descAddr:], d.Addr)
	binary.LittleEndian.PutUint16(b[descLen:], d.Length)
	b[txdCSO] = d.CSO
	b[txdCmd] = d.Cmd
	b[descStatus] = d.Status & 0x0F
	b[txdCSS] = d.CSS
	binary.LittleEndian.PutUint16(b[descSpecial:], d.Special)
}
