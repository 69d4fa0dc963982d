package intel

import "github.com/uiodrv/uiodrv/mmio"

// Reg is the byte offset of a 32-bit register in BAR0.
type Reg uint32

// Registers at the same offset on the 8254x, the 82574 and the 82576 family
// (8254x SDM 13.4 and 13.7; 82574 10.2; 82576 8.2, 8.8, 8.10, 8.11, 8.19).
const (
	CTRL     Reg = 0x00000 // Device Control - RW
	STATUS   Reg = 0x00008 // Device Status - RO
	EECD     Reg = 0x00010 // EEPROM/Flash Control/Data - RW
	EERD     Reg = 0x00014 // EEPROM Read - RW (not on 82544GC)
	CTRL_EXT Reg = 0x00018 // Extended Device Control - RW
	ICR      Reg = 0x000C0 // Interrupt Cause Read - RC (W1C on the 82574 in MSI-X mode)
	ICS      Reg = 0x000C8 // Interrupt Cause Set - WO
	IMS      Reg = 0x000D0 // Interrupt Mask Set/Read - RW
	IMC      Reg = 0x000D8 // Interrupt Mask Clear - WO
	IAM      Reg = 0x000E0 // Interrupt Acknowledge Auto Mask - RW (not on the 8254x)
	RCTL     Reg = 0x00100 // RX Control - RW
	TCTL     Reg = 0x00400 // TX Control - RW
	CRCERRS  Reg = 0x04000 // CRC Error Count - RC
	RXERRC   Reg = 0x0400C // RX Error Count - RC
	MPC      Reg = 0x04010 // Missed Packets Count - RC
	COLC     Reg = 0x04028 // Collision Count - RC
	RLEC     Reg = 0x04040 // Receive Length Error Count - RC
	GPRC     Reg = 0x04074 // Good Packets RX Count - RC
	BPRC     Reg = 0x04078 // Broadcast Packets RX Count - RC
	MPRC     Reg = 0x0407C // Multicast Packets RX Count - RC
	GPTC     Reg = 0x04080 // Good Packets TX Count - RC
	GORCL    Reg = 0x04088 // Good Octets RX Count Low - RC
	GORCH    Reg = 0x0408C // Good Octets RX Count High - RC
	GOTCL    Reg = 0x04090 // Good Octets TX Count Low - RC
	GOTCH    Reg = 0x04094 // Good Octets TX Count High - RC
	RNBC     Reg = 0x040A0 // RX No Buffers Count - RC
	RUC      Reg = 0x040A4 // RX Undersize Count - RC
	RFC      Reg = 0x040A8 // RX Fragment Count - RC
	ROC      Reg = 0x040AC // RX Oversize Count - RC
	RJC      Reg = 0x040B0 // RX Jabber Count - RC
)

// Bits with the same meaning on every family (the same sections).
const (
	CTRL_EXT_DRV_LOAD uint32 = 1 << 28 // Driver Loaded (82574)
	CTRL_FD           uint32 = 1 << 0  // Full Duplex
	CTRL_FRCDPX       uint32 = 1 << 12 // Force Duplex
	CTRL_FRCSPD       uint32 = 1 << 11 // Force Speed
	CTRL_RST          uint32 = 1 << 26 // Device Reset - SC
	CTRL_SLU          uint32 = 1 << 6  // Set Link Up
	RCTL_BAM          uint32 = 1 << 15 // Broadcast Accept Mode
	RCTL_EN           uint32 = 1 << 1  // Receiver Enable
	RCTL_MPE          uint32 = 1 << 4  // Multicast Promiscuous Enable
	RCTL_SECRC        uint32 = 1 << 26 // Strip Ethernet CRC
	RCTL_UPE          uint32 = 1 << 3  // Unicast Promiscuous Enable
	STATUS_FD         uint32 = 1 << 0  // Full Duplex
	STATUS_LU         uint32 = 1 << 1  // Link Up
	STATUS_SPEED_100  uint32 = 1 << 6  // 100 Mb/s
	STATUS_SPEED_1000 uint32 = 2 << 6  // 1000 Mb/s (3 << 6 also means 1000)
	STATUS_SPEED_MASK uint32 = 3 << 6  // Link speed
	TCTL_EN           uint32 = 1 << 1  // Transmit Enable
	TCTL_PSP          uint32 = 1 << 3  // Pad Short Packets
	TCTL_RTLC         uint32 = 1 << 24 // Re-transmit on Late Collision
)

// MTA is Multicast Table Array entry i (i < MTANum) - RW.
func MTA(i int) Reg { return 0x05200 + Reg(i)*4 }

// RAH is Receive Address High of entry i - RW.
func RAH(i int) Reg { return 0x05404 + Reg(i)*8 }

// RAL is Receive Address Low of entry i - RW.
func RAL(i int) Reg { return 0x05400 + Reg(i)*8 }

// StopRX masks the interrupt causes in imc and clears RCTL.EN and TCTL.EN
// (keeping short packets padded), without waiting, then reads STATUS to
// flush the posted writes: the register-only stop of a process that exits
// at once. The NIC stops fetching and writing descriptors even while bus
// mastering is still on; the next Open resets it.
func StopRX(regs mmio.Regs, imc uint32) {
	regs.Write32(uint32(IMC), imc)
	regs.Write32(uint32(RCTL), 0)
	regs.Write32(uint32(TCTL), TCTL_PSP)
	regs.Read32(uint32(STATUS))
}
