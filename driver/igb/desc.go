package igb

// Advanced descriptor formats (82576 7.1.5 and 7.2.2.3), 16 bytes each,
// little-endian. The read format is what the driver posts; the NIC writes
// the write-back format over the same 16 bytes.

// DescSize is the size of an advanced RX or TX descriptor.
const DescSize = 16

// Advanced RX descriptor, read format (82576 7.1.5.1): packet buffer address,
// then header buffer address. With one-buffer descriptors the header address
// is unused; it must be written 0 because its low bit is where the NIC
// reports DD.
const (
	rxdPktAddr = 0 // 8 bytes
	rxdHdrAddr = 8 // 8 bytes
)

// Advanced RX descriptor, write-back format (82576 7.1.5.2).
const (
	rxdRSSHash   = 4  // RSS hash (RXCSUM.PCSD set) - 4 bytes
	rxdStatusErr = 8  // extended status (bits 0-19) and errors (20-31) - 4 bytes
	rxdLength    = 12 // packet length - 2 bytes
	rxdVLAN      = 14 // VLAN tag - 2 bytes
)

// Extended RX status and error bits (82576 7.1.5.2; e1000_82575.h).
const (
	RXD_STAT_DD  uint32 = 0x00000001 // Descriptor done
	RXD_STAT_EOP uint32 = 0x00000002 // End of packet
	RXD_STAT_VP  uint32 = 0x00000008 // VLAN packet

	// Errors occupy the top byte that RxDesc.Errors reports.
	RXDEXT_ERR_SHIFT           = 24
	RXDEXT_STATERR_TCPE uint32 = 0x20000000 // TCP/UDP checksum error
	RXDEXT_STATERR_IPE  uint32 = 0x40000000 // IP checksum error
	RXDEXT_STATERR_RXE  uint32 = 0x80000000 // RX data error (CRC, symbol...)
)

// Advanced TX data descriptor, read format (82576 7.2.2.3.2).
const (
	txdAddr       = 0  // buffer address - 8 bytes
	txdCmdTypeLen = 8  // length (0-15), DTYP (20-23), DCMD (24-31) - 4 bytes
	txdOlinfo     = 12 // PAYLEN (14-31) and offload bits; DD (bit 0) on write-back - 4 bytes
)

// Advanced TX command, type and status bits (e1000_82575.h).
const (
	ADVTXD_DTYP_DATA    uint32 = 0x00300000 // advanced data descriptor
	ADVTXD_DCMD_EOP     uint32 = 0x01000000 // end of packet
	ADVTXD_DCMD_IFCS    uint32 = 0x02000000 // insert FCS
	ADVTXD_DCMD_RS      uint32 = 0x08000000 // report status (write back DD)
	ADVTXD_DCMD_DEXT    uint32 = 0x20000000 // descriptor extension: advanced format
	ADVTXD_PAYLEN_SHIFT        = 14
	TXD_STAT_DD         uint32 = 0x00000001 // descriptor done (write-back, in olinfo's place)
)
