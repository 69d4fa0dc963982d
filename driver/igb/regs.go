package igb

import "github.com/uiodrv/uiodrv/driver/intel"

// Register offsets in BAR0 and their bits, named after Linux's igb
// e1000_regs.h, e1000_defines.h and e1000_82575.h without the E1000_ prefix.
//
// Reference: Intel 82576EB Gigabit Ethernet Controller Datasheet rev 2.x,
// section 8 ("Programming Interface"); the I350 (section 8) and I210 (section
// 8) datasheets share these offsets. "RC" = clear on read, "W1C" = write 1 to
// clear, "SC" = self clearing.

// Reg is the byte offset of a 32-bit register in BAR0.
type Reg = intel.Reg

// General registers (82576 8.2).
const (
	MDIC Reg = 0x00020 // MDI Control - RW
)

// Interrupt registers (82576 8.8).
const (
	GPIE      Reg = 0x01514 // General Purpose Interrupt Enable - RW
	EICS      Reg = 0x01520 // Extended Interrupt Cause Set - WO
	EIMS      Reg = 0x01524 // Extended Interrupt Mask Set/Read - RW
	EIMC      Reg = 0x01528 // Extended Interrupt Mask Clear - WO
	EIAC      Reg = 0x0152C // Extended Interrupt Auto Clear - RW
	EIAM      Reg = 0x01530 // Extended Interrupt Auto Mask - RW
	EICR      Reg = 0x01580 // Extended Interrupt Cause Read - RC/W1C
	IVAR0     Reg = 0x01700 // Interrupt Vector Allocation (array of 8 on the 82576) - RW
	IVAR_MISC Reg = 0x01740 // IVAR for "other" causes - RW
)

// EITR is the Extended Interrupt Throttle register of MSI-X vector v - RW.
func EITR(v int) Reg { return 0x01680 + Reg(v)*4 }

// IVAR is the v-th register of the IVAR0 array.
func IVAR(i int) Reg { return IVAR0 + Reg(i)*4 }

// Receive and transmit control (82576 8.9, 8.12).
const (
	RXCSUM Reg = 0x05000 // RX Checksum Control - RW
	RLPML  Reg = 0x05004 // RX Long Packet Max Length - RW
	MRQC   Reg = 0x05818 // Multiple Receive Queues Command - RW
)

// RETA is the i-th of the 32 Redirection Table registers, 4 entries each - RW.
func RETA(i int) Reg { return 0x05C00 + Reg(i)*4 }

// RSSRK is the i-th of the 10 RSS Random Key registers - RW.
func RSSRK(i int) Reg { return 0x05C80 + Reg(i)*4 }

// Per-queue registers. Queues 0-3 keep the 82575's addresses (0x100 apart,
// which the 82576 aliases); queues 4-15 live at 0xC000/0xE000, 0x40 apart.
// These are Linux's E1000_RDBAL(_n) etc.
func rxq(q int, lo, hi Reg) Reg {
	if q < 4 {
		return lo + Reg(q)*0x100
	}
	return hi + Reg(q)*0x40
}

func txq(q int, lo, hi Reg) Reg { return rxq(q, lo, hi) }

// RDBAL is RX Descriptor Base Address Low of queue q - RW.
func RDBAL(q int) Reg { return rxq(q, 0x02800, 0x0C000) }

// RDBAH is RX Descriptor Base Address High of queue q - RW.
func RDBAH(q int) Reg { return rxq(q, 0x02804, 0x0C004) }

// RDLEN is RX Descriptor Length (bytes, multiple of 128) of queue q - RW.
func RDLEN(q int) Reg { return rxq(q, 0x02808, 0x0C008) }

// SRRCTL is Split and Replication Receive Control of queue q - RW.
func SRRCTL(q int) Reg { return rxq(q, 0x0280C, 0x0C00C) }

// RDH is RX Descriptor Head of queue q - RO once the queue is enabled.
func RDH(q int) Reg { return rxq(q, 0x02810, 0x0C010) }

// RDT is RX Descriptor Tail of queue q - RW.
func RDT(q int) Reg { return rxq(q, 0x02818, 0x0C018) }

// RXDCTL is Receive Descriptor Control of queue q - RW.
func RXDCTL(q int) Reg { return rxq(q, 0x02828, 0x0C028) }

// RQDPC is the RX Queue Drop Packet Count of queue q - RC.
func RQDPC(q int) Reg { return 0x0C030 + Reg(q)*0x40 }

// TDBAL is TX Descriptor Base Address Low of queue q - RW.
func TDBAL(q int) Reg { return txq(q, 0x03800, 0x0E000) }

// TDBAH is TX Descriptor Base Address High of queue q - RW.
func TDBAH(q int) Reg { return txq(q, 0x03804, 0x0E004) }

// TDLEN is TX Descriptor Length (bytes, multiple of 128) of queue q - RW.
func TDLEN(q int) Reg { return txq(q, 0x03808, 0x0E008) }

// TDH is TX Descriptor Head of queue q - RO once the queue is enabled.
func TDH(q int) Reg { return txq(q, 0x03810, 0x0E010) }

// TDT is TX Descriptor Tail of queue q - RW.
func TDT(q int) Reg { return txq(q, 0x03818, 0x0E018) }

// TXDCTL is Transmit Descriptor Control of queue q - RW.
func TXDCTL(q int) Reg { return txq(q, 0x03828, 0x0E028) }

// Statistics (82576 8.19), all clear on read; the 64-bit octet counters
// clear both halves when the high half is read.
const (
	StatsFirst     = intel.CRCERRS
	StatsLast  Reg = 0x04124 // ICRXOC, the last of the block
)

// CTRL bits (82576 8.2.1).
const (
	CTRL_GIO_MASTER_DISABLE uint32 = 0x00000004 // Block new PCIe master requests
)

// STATUS bits (82576 8.2.2).
const (
	STATUS_GIO_MASTER_ENABLE uint32 = 0x00080000 // PCIe master requests pending
)

// CTRL_EXT bits.

// MDIC fields (82576 8.2.4) and the PHY registers the driver writes through
// it (IEEE 802.3 clause 22). The internal PHY is at MDIO address 1.
const (
	MDIC_REG_SHIFT        = 16
	MDIC_PHY_SHIFT        = 21
	MDIC_OP_WRITE  uint32 = 0x04000000
	MDIC_READY     uint32 = 0x10000000
	MDIC_ERROR     uint32 = 0x40000000

	PHY_ADDR               = 1
	PHY_CONTROL            = 0      // MII BMCR
	MII_CR_SPEED_1000      = 0x0040 // speed select MSB
	MII_CR_FULL_DUPLEX     = 0x0100
	MII_CR_RESTART_AUTONEG = 0x0200
	MII_CR_AUTO_NEG_EN     = 0x1000
)

// Interrupt cause bits of ICR/ICS/IMS/IMC (82576 8.8.1).
const (
	ICR_LSC uint32 = 0x00000004 // Link status change
)

// GPIE bits (82576 8.8.10).
const (
	GPIE_NSICR     uint32 = 0x00000001 // Non-selective ICR clear on read
	GPIE_MSIX_MODE uint32 = 0x00000010 // MSI-X: EICR bits are vectors
	GPIE_EIAME     uint32 = 0x40000000 // EIAM auto-masks on MSI-X messages
	GPIE_PBA       uint32 = 0x80000000 // PBA support: pending bits in the MSI-X PBA
)

// IVAR entry bits (82576 8.8.15).
const IVAR_VALID uint32 = 0x80

// RCTL bits (82576 8.9.1).

// SRRCTL bits (82576 8.10.2).
const (
	SRRCTL_BSIZEPKT_SHIFT             = 10         // packet buffer size in KiB
	SRRCTL_DESCTYPE_ADV_ONEBUF uint32 = 0x02000000 // advanced descriptors, one buffer
	SRRCTL_DROP_EN             uint32 = 0x80000000 // drop when this queue has no descriptor
)

// RXDCTL/TXDCTL bits (82576 8.10.10, 8.12.13): thresholds in bits 0-4 (P),
// 8-12 (H), 16-20 (W), and the queue enable.
const (
	RXDCTL_QUEUE_ENABLE uint32 = 0x02000000
	TXDCTL_QUEUE_ENABLE uint32 = 0x02000000
)

// TCTL bits (82576 8.12.1).
const (
	TCTL_CT   uint32 = 0x0F << 4  // Collision threshold (15)
	TCTL_COLD uint32 = 0x3F << 12 // Collision distance (full duplex)
)

// RXCSUM bits (82576 8.10.12).
const (
	RXCSUM_PCSD uint32 = 0x00002000 // Packet checksum disable: the RSS hash takes its place
)

// MRQC bits (82576 8.10.11).
const (
	MRQC_ENABLE_RSS_MQ      uint32 = 0x00000002 // RSS, multiple queues, no VMDq
	MRQC_RSS_FIELD_IPV4_TCP uint32 = 0x00010000
	MRQC_RSS_FIELD_IPV4     uint32 = 0x00020000
	MRQC_RSS_FIELD_IPV4_UDP uint32 = 0x00400000
)

// RAH bits.
const RAH_AV uint32 = 0x80000000 // Address valid
