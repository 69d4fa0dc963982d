package e1000

import "github.com/uiodrv/uiodrv/driver/intel"

// Register offsets in BAR0 and their bits, named after Linux's e1000_hw.h
// (and e1000e's regs.h/defines.h for the 82574L) without the E1000_ prefix.
//
// References: 8254x SDM rev 4.0 section 13 ("Register Descriptions") and the
// 82574 datasheet rev 3.4 section 10.2. "RC" = clear on read, "W1C" = write 1
// to clear, "SC" = self clearing.

// Reg is the byte offset of a 32-bit register in BAR0.
type Reg = intel.Reg

// General registers (SDM 13.4.1-13.4.6; 82574 10.2.2).

// Interrupt registers (SDM 13.4.17-13.4.21; 82574 10.2.4).
const (
	ITR  Reg = 0x000C4 // Interrupt Throttling Rate - RW (not on 82544GC)
	EIAC Reg = 0x000DC // Extended Interrupt Auto Clear - RW (82574 only; E1000_EIAC_82574)
	IVAR Reg = 0x000E4 // Interrupt Vector Allocation - RW (82574 only)
)

// EITR is the Extended Interrupt Throttling register of MSI-X vector v
// (82574 only, v < 5; E1000_EITR_82574) - RW.
func EITR(v int) Reg { return 0x000E8 + Reg(v)*4 }

// Receive and transmit control (SDM 13.4.22, 13.4.33, 13.4.34).
const (
	TIPG Reg = 0x00410 // TX Inter-packet gap - RW
	RDTR Reg = 0x02820 // RX Delay Timer - RW
	RADV Reg = 0x0282C // RX Interrupt Absolute Delay Timer - RW (not on 82544GC)
	TIDV Reg = 0x03820 // TX Interrupt Delay Value - RW
)

// Per-queue descriptor ring registers. The 8254x has queue 0 only; the 82574
// has queues 0 and 1, 0x100 apart.

// RDBAL is RX Descriptor Base Address Low of queue q - RW.
func RDBAL(q int) Reg { return 0x02800 + Reg(q)*0x100 }

// RDBAH is RX Descriptor Base Address High of queue q - RW.
func RDBAH(q int) Reg { return 0x02804 + Reg(q)*0x100 }

// RDLEN is RX Descriptor Length (bytes, multiple of 128) of queue q - RW.
func RDLEN(q int) Reg { return 0x02808 + Reg(q)*0x100 }

// RDH is RX Descriptor Head of queue q - RW (written by software only at init).
func RDH(q int) Reg { return 0x02810 + Reg(q)*0x100 }

// RDT is RX Descriptor Tail of queue q - RW.
func RDT(q int) Reg { return 0x02818 + Reg(q)*0x100 }

// TDBAL is TX Descriptor Base Address Low of queue q - RW.
func TDBAL(q int) Reg { return 0x03800 + Reg(q)*0x100 }

// TDBAH is TX Descriptor Base Address High of queue q - RW.
func TDBAH(q int) Reg { return 0x03804 + Reg(q)*0x100 }

// TDLEN is TX Descriptor Length (bytes, multiple of 128) of queue q - RW.
func TDLEN(q int) Reg { return 0x03808 + Reg(q)*0x100 }

// TDH is TX Descriptor Head of queue q - RW (written by software only at init).
func TDH(q int) Reg { return 0x03810 + Reg(q)*0x100 }

// TDT is TX Descriptor Tail of queue q - RW.
func TDT(q int) Reg { return 0x03818 + Reg(q)*0x100 }

// TARC is TX Arbitration Count of queue q - RW (82574 only).
func TARC(q int) Reg { return 0x03840 + Reg(q)*0x100 }

// Filter registers (SDM 13.5).

// MTANum is the number of Multicast Table Array registers.
const MTANum = 128

// Statistics registers (SDM 13.7; 82574 10.2.8). All are RC; the 64-bit
// octet counters must be read low then high (reading high clears both).
const (
	ALGNERRC Reg = 0x04004 // Alignment Error Count - RC
	SYMERRS  Reg = 0x04008 // Symbol Error Count - RC
	SCC      Reg = 0x04014 // Single Collision Count - RC
	ECOL     Reg = 0x04018 // Excessive Collision Count - RC
	MCC      Reg = 0x0401C // Multiple Collision Count - RC
	LATECOL  Reg = 0x04020 // Late Collision Count - RC
	DC       Reg = 0x04030 // Defer Count - RC
	TNCRS    Reg = 0x04034 // TX with No CRS - RC
	CEXTERR  Reg = 0x0403C // Carrier Extension Error Count - RC
	XONRXC   Reg = 0x04048 // XON RX Count - RC
	XONTXC   Reg = 0x0404C // XON TX Count - RC
	XOFFRXC  Reg = 0x04050 // XOFF RX Count - RC
	XOFFTXC  Reg = 0x04054 // XOFF TX Count - RC
	FCRUC    Reg = 0x04058 // Flow Control RX Unsupported Count - RC
	TORL     Reg = 0x040C0 // Total Octets RX Low - RC
	TORH     Reg = 0x040C4 // Total Octets RX High - RC
	TOTL     Reg = 0x040C8 // Total Octets TX Low - RC
	TOTH     Reg = 0x040CC // Total Octets TX High - RC
	TPR      Reg = 0x040D0 // Total Packets RX - RC
	TPT      Reg = 0x040D4 // Total Packets TX - RC
	MPTC     Reg = 0x040F0 // Multicast Packets TX Count - RC
	BPTC     Reg = 0x040F4 // Broadcast Packets TX Count - RC
)

// StatsFirst and StatsLast bound the statistics block (inclusive).
const (
	StatsFirst Reg = 0x04000
	StatsLast  Reg = 0x040FC
)

// CTRL bits (SDM 13.4.1; 82574 10.2.2.1).
const (
	CTRL_LRST    uint32 = 1 << 3  // Link Reset (8254x)
	CTRL_ASDE    uint32 = 1 << 5  // Auto-Speed Detection Enable (8254x)
	CTRL_ILOS    uint32 = 1 << 7  // Invert Loss-of-Signal
	CTRL_VME     uint32 = 1 << 30 // VLAN Mode Enable
	CTRL_PHY_RST uint32 = 1 << 31 // PHY Reset
)

// STATUS bits (SDM 13.4.2).
const (
	STATUS_SPEED_10 uint32 = 0 << 6 // 10 Mb/s
)

// EECD bits (SDM 13.4.3; 82574 10.2.2.3).
const (
	EECD_PRES    uint32 = 1 << 8 // EEPROM Present
	EECD_AUTO_RD uint32 = 1 << 9 // EEPROM auto read done (82574)
)

// EERD layout. The 82540/82545 (SDM 13.4.4) and the 82574 (10.2.2.4) differ in
// where DONE and the address sit; the 82544GC has no EERD.
const (
	EERD_START            uint32 = 1 << 0 // Start Read (all)
	EERD_DONE             uint32 = 1 << 4 // Read Done (82540/82545)
	EERD_ADDR_SHIFT              = 8      // word address, bits 15:8 (82540/82545)
	EERD_DONE_82574       uint32 = 1 << 1 // Read Done (82574; E1000_NVM_RW_REG_DONE)
	EERD_ADDR_SHIFT_82574        = 2      // word address, bits 15:2 (82574; E1000_NVM_RW_ADDR_SHIFT)
	EERD_DATA_SHIFT              = 16     // read data, bits 31:16 (all)
)

// CTRL_EXT bits (82574 10.2.2.5).
const (
	CTRL_EXT_EIAME   uint32 = 1 << 24 // Extended Interrupt Auto Mask Enable (82574)
	CTRL_EXT_IAME    uint32 = 1 << 27 // Interrupt Acknowledge Auto-mask Enable (82574)
	CTRL_EXT_PBA_CLR uint32 = 1 << 31 // PBA Clear: IMS write clears MSI-X pending bits (82574)
)

// IVAR fields (82574 10.2.4.9): a 3-bit vector number plus a valid bit per cause.
const (
	IVAR_INT_ALLOC_VALID uint32 = 1 << 3  // entry valid
	IVAR_RXQ0_SHIFT             = 0       // RX queue 0 entry, bits 3:0
	IVAR_TXQ0_SHIFT             = 8       // TX queue 0 entry, bits 11:8
	IVAR_OTHER_SHIFT            = 16      // other causes entry, bits 19:16
	IVAR_TX_INT_EVERY_WB uint32 = 1 << 31 // TX interrupt on every write-back
)

// TARC bits (82574 10.2.6.11).
const TARC_ENABLE uint32 = 1 << 10 // TX queue enable; QEMU's e1000e does not transmit without it

// RCTL bits (SDM 13.4.22).
const (
	RCTL_SBP        uint32 = 1 << 2  // Store Bad Packets
	RCTL_LPE        uint32 = 1 << 5  // Long Packet Enable
	RCTL_RDMTS_HALF uint32 = 0 << 8  // RX Descriptor Minimum Threshold: 1/2 of RDLEN
	RCTL_BSIZE_2048 uint32 = 0 << 16 // RX Buffer Size 2048 (with BSEX = 0)
	RCTL_BSIZE_MASK uint32 = 3 << 16 // RX Buffer Size field
	RCTL_BSEX       uint32 = 1 << 25 // Buffer Size Extension (x16)
)

// TCTL bits (SDM 13.4.33).
const (
	TCTL_CT_SHIFT   = 4  // Collision Threshold, bits 11:4
	TCTL_COLD_SHIFT = 12 // Collision Distance, bits 21:12
)

// TIPG fields (SDM 13.4.34).
const (
	TIPG_IPGT_SHIFT  = 0  // IPG Transmit Time, bits 9:0
	TIPG_IPGR1_SHIFT = 10 // IPG Receive Time 1, bits 19:10
	TIPG_IPGR2_SHIFT = 20 // IPG Receive Time 2, bits 29:20
)

// RAH bits (SDM 13.5.2).
const RAH_AV uint32 = 1 << 31 // Address Valid

// Cause is a set of interrupt causes: the bits of ICR, ICS, IMS and IMC
// (SDM 13.4.17; 82574 10.2.4.1).
type Cause uint32

// Interrupt cause bits.
const (
	ICR_TXDW         Cause = 1 << 0  // TX Descriptor Written back
	ICR_TXQE         Cause = 1 << 1  // TX Queue Empty
	ICR_LSC          Cause = 1 << 2  // Link Status Change
	ICR_RXSEQ        Cause = 1 << 3  // RX Sequence Error
	ICR_RXDMT0       Cause = 1 << 4  // RX Descriptor Minimum Threshold reached
	ICR_RXO          Cause = 1 << 6  // RX Overrun
	ICR_RXT0         Cause = 1 << 7  // RX Timer interrupt (a frame was received)
	ICR_MDAC         Cause = 1 << 9  // MDIO Access Complete
	ICR_RXCFG        Cause = 1 << 10 // RX /C/ ordered sets
	ICR_RXQ0         Cause = 1 << 20 // RX Queue 0 (82574, MSI-X)
	ICR_RXQ1         Cause = 1 << 21 // RX Queue 1 (82574, MSI-X)
	ICR_TXQ0         Cause = 1 << 22 // TX Queue 0 (82574, MSI-X)
	ICR_TXQ1         Cause = 1 << 23 // TX Queue 1 (82574, MSI-X)
	ICR_OTHER        Cause = 1 << 24 // Other causes (82574, MSI-X)
	ICR_INT_ASSERTED Cause = 1 << 31 // Interrupt Asserted (82574)
)

// CauseAll masks every cause (IMC value that disables all interrupts).
const CauseAll Cause = 0xFFFFFFFF

var causeNames = [...]struct {
	c    Cause
	name string
}{
	{ICR_TXDW, "TXDW"}, {ICR_TXQE, "TXQE"}, {ICR_LSC, "LSC"}, {ICR_RXSEQ, "RXSEQ"},
	{ICR_RXDMT0, "RXDMT0"}, {ICR_RXO, "RXO"}, {ICR_RXT0, "RXT0"}, {ICR_MDAC, "MDAC"},
	{ICR_RXCFG, "RXCFG"}, {ICR_RXQ0, "RXQ0"}, {ICR_RXQ1, "RXQ1"}, {ICR_TXQ0, "TXQ0"},
	{ICR_TXQ1, "TXQ1"}, {ICR_OTHER, "OTHER"}, {ICR_INT_ASSERTED, "INT_ASSERTED"},
}
