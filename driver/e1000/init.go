package e1000

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

// Delays around a device reset, after Linux e1000_reset_hw: let DMA in flight
// finish before CTRL.RST, and give the MAC time to come out of reset.
const (
	quiesceDelay = 10 * time.Millisecond
	resetDelay   = 5 * time.Millisecond
	resetTimeout = 100 * time.Millisecond
	eepromTimout = 10 * time.Millisecond
)

// New resets and initialises the controller whose BAR0 is regs, with rings
// from alloc and packet buffers from pool (which the caller keeps, and
// closes after Close). Its RX ring is filled when it returns; interrupts are
// left masked: the core enables them (SetIRQ) once its handler is ready.
//
// The sequence follows SDM 14 ("General Initialization and Reset Operation")
// and 82574 4.6 ("Software Initialization Sequence"). On error nothing stays
// allocated; the device may be left reset.
func New(regs mmio.Regs, alloc dma.Allocator, pool *driver.BufPool, model Model, opts Options) (*NIC, error) {
	if !model.valid() {
		return nil, fmt.Errorf("e1000: new: %w: model %v", ErrUnsupportedDevice, model)
	}
	if err := opts.normalize(model); err != nil {
		return nil, fmt.Errorf("e1000: new %v: %w", model, err)
	}
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return nil, errors.New("e1000: new: big-endian hosts are not supported")
	}
	if pool == nil || pool.Len() < opts.RxRingSize {
		return nil, fmt.Errorf("e1000: new %v: the pool must hold at least one full RX ring (%d buffers)", model, opts.RxRingSize)
	}
	n := &NIC{regs: regs, model: model, opts: opts, pool: pool}
	if err := n.allocate(alloc); err != nil {
		n.release()
		return nil, fmt.Errorf("e1000: new %v: %w", model, err)
	}
	if err := n.init(); err != nil {
		n.wr(intel.IMC, uint32(CauseAll))
		n.wr(intel.RCTL, 0)
		n.wr(intel.TCTL, 0)
		n.release()
		return nil, fmt.Errorf("e1000: new %v: %w", model, err)
	}
	n.info = driver.NICInfo{Name: model.String(), MAC: n.mac, Queues: 1, MaxQueues: 1, Extras: e1000Extras}
	return n, nil
}

func (o *Options) normalize(m Model) error {
	if o.RxRingSize == 0 {
		o.RxRingSize = DefaultRingSize
	}
	if o.TxRingSize == 0 {
		o.TxRingSize = DefaultRingSize
	}
	for _, r := range []struct {
		name string
		n    int
	}{{"RxRingSize", o.RxRingSize}, {"TxRingSize", o.TxRingSize}} {
		if r.n < MinRingSize || r.n > MaxRingSize || r.n&(r.n-1) != 0 {
			return fmt.Errorf("%s %d: want a power of two in [%d, %d]", r.name, r.n, MinRingSize, MaxRingSize)
		}
	}
	if o.Buffers == 0 {
		o.Buffers = 2*o.RxRingSize + o.TxRingSize
	}
	if o.Buffers < o.RxRingSize || o.Buffers > 1<<20 {
		return fmt.Errorf("Buffers %d: want at least RxRingSize (%d) and at most %d", o.Buffers, o.RxRingSize, 1<<20)
	}
	if o.ITR > 0xFFFF {
		o.ITR = 0xFFFF
	}
	if o.MSIX && !m.HasMSIX() {
		return fmt.Errorf("MSI-X needs an 82574L (IVAR), not an %v", m)
	}
	return nil
}

func (n *NIC) init() error {
	if err := n.reset(); err != nil {
		return err
	}
	if err := n.setupMAC(); err != nil {
		return err
	}
	n.clearStats()
	n.setupLink()
	n.setupRx()
	n.setupTx()
	n.setupIRQ()
	return nil
}

// reset quiesces and resets the MAC, leaving interrupts masked and ICR clear.
func (n *NIC) reset() error {
	// Mask everything first so nothing fires while the device is half set up
	// (SDM 13.4.21 IMC; 82574 4.6.1 "Interrupts During Initialization").
	n.wr(intel.IMC, uint32(CauseAll))
	// Stop RX and TX and let DMA in flight land before the reset
	// (Linux e1000_reset_hw; 82574 4.6.2). The STATUS read flushes the
	// posted writes.
	n.wr(intel.RCTL, 0)
	n.wr(intel.TCTL, intel.TCTL_PSP)
	n.rd(intel.STATUS)
	time.Sleep(quiesceDelay)

	// Global reset: CTRL.RST, self-clearing (SDM 13.4.1; 82574 4.6.2).
	// The EEPROM is reloaded, which restores RAL0/RAH0.
	n.wr(intel.CTRL, n.rd(intel.CTRL)|intel.CTRL_RST)
	time.Sleep(resetDelay)
	if err := mmio.WaitBits(n.regs, uint32(intel.CTRL), intel.CTRL_RST, 0, resetTimeout); err != nil {
		return fmt.Errorf("reset: CTRL.RST did not clear: %w", err)
	}
	if n.model.is82574() {
		// The 82574 reloads its NVM after reset; wait for EECD.AUTO_RD
		// before touching registers it loads (82574 4.6.2, Linux
		// e1000e_get_auto_rd_done).
		if err := mmio.WaitBits(n.regs, uint32(intel.EECD), EECD_AUTO_RD, EECD_AUTO_RD, resetTimeout); err != nil {
			return fmt.Errorf("reset: NVM auto-read did not complete: %w", err)
		}
	}
	// Reset unmasks nothing, but mask again and clear causes latched before
	// or during the reset (Linux does the same).
	n.wr(intel.IMC, uint32(CauseAll))
	if icr := n.rd(intel.ICR); icr != 0 && n.model.is82574() {
		n.wr(intel.ICR, icr)
	}
	return nil
}

// setupMAC reads the station address from RAL0/RAH0, which the NIC loads from
// the EEPROM at reset (SDM 13.5.2), or from EEPROM words 0-2 through EERD
// when they hold no valid address (SDM 13.4.4, 5.6.1), and writes it back
// with RAH.AV so unicast filtering accepts it (SDM 14.4).
func (n *NIC) setupMAC() error {
	ral, rah := n.rd(intel.RAL(0)), n.rd(intel.RAH(0))
	mac := net.HardwareAddr{byte(ral), byte(ral >> 8), byte(ral >> 16), byte(ral >> 24), byte(rah), byte(rah >> 8)}
	if rah&RAH_AV == 0 || !validUnicast(mac) {
		if !n.model.hasEERD() {
			return fmt.Errorf("read MAC: RAL0/RAH0 hold no valid address (%v, RAH %#08x) and the %v has no EERD", mac, rah, n.model)
		}
		for i := 0; i < 3; i++ {
			w, err := n.readEEPROM(uint16(i))
			if err != nil {
				return fmt.Errorf("read MAC: %w", err)
			}
			mac[2*i], mac[2*i+1] = byte(w), byte(w>>8)
		}
		if !validUnicast(mac) {
			return fmt.Errorf("read MAC: EEPROM holds no valid unicast address (%v)", mac)
		}
	}
	n.mac = mac
	n.wr(intel.RAL(0), binary.LittleEndian.Uint32(mac[0:4]))
	n.wr(intel.RAH(0), uint32(binary.LittleEndian.Uint16(mac[4:6]))|RAH_AV)
	return nil
}

func validUnicast(mac net.HardwareAddr) bool {
	zero := true
	for _, b := range mac {
		if b != 0 {
			zero = false
		}
	}
	return !zero && mac[0]&1 == 0
}

// readEEPROM reads one 16-bit EEPROM word through EERD (SDM 13.4.4;
// 82574 10.2.2.4, where DONE and the address field sit elsewhere).
func (n *NIC) readEEPROM(word uint16) (uint16, error) {
	shift, done := EERD_ADDR_SHIFT, EERD_DONE
	if n.model.is82574() {
		shift, done = EERD_ADDR_SHIFT_82574, EERD_DONE_82574
	}
	n.wr(intel.EERD, uint32(word)<<shift|EERD_START)
	if err := mmio.WaitBits(n.regs, uint32(intel.EERD), done, done, eepromTimout); err != nil {
		return 0, fmt.Errorf("EEPROM word %d: %w", word, err)
	}
	return uint16(n.rd(intel.EERD) >> EERD_DATA_SHIFT), nil
}

// setupLink sets the link up and leaves speed and duplex to auto-negotiation
// (SDM 14.3 "General Configuration" and 14.6; 82574 4.6.3).
func (n *NIC) setupLink() {
	ctrl := n.rd(intel.CTRL)
	ctrl |= intel.CTRL_SLU
	if !n.model.is82574() {
		// 8254x copper: let the MAC take speed from the PHY (SDM 14.3).
		ctrl |= CTRL_ASDE
	}
	ctrl &^= CTRL_LRST | CTRL_PHY_RST | CTRL_ILOS | intel.CTRL_FRCSPD | intel.CTRL_FRCDPX | CTRL_VME
	n.wr(intel.CTRL, ctrl)
	if n.model.is82574() {
		// Tell manageability firmware a driver owns the device
		// (82574 10.2.2.5; Linux e1000e_get_hw_control).
		n.set(intel.CTRL_EXT, intel.CTRL_EXT_DRV_LOAD)
	}
}

// setupRx programs the RX ring and posts RxRingSize-1 buffers (SDM 14.4;
// 82574 4.6.5). RCTL is written once, last: QEMU's e1000 ignores RX for one
// second after every RCTL write.
func (n *NIC) setupRx() {
	// Receive only our address and broadcast: clear the multicast table
	// (SDM 14.4).
	for i := 0; i < MTANum; i++ {
		n.wr(intel.MTA(i), 0)
	}
	base := n.rxMem.Addr()
	n.wr(RDBAL(0), uint32(base))
	n.wr(RDBAH(0), uint32(base>>32))
	n.wr(RDLEN(0), uint32(n.opts.RxRingSize*DescSize))
	n.wr(RDH(0), 0)
	n.wr(RDT(0), 0)
	// No receive interrupt delay: latency matters more than interrupt count,
	// and ITR is the throttle (SDM 13.4.30/13.4.31).
	n.wr(RDTR, 0)
	if n.model.hasITR() {
		n.wr(RADV, 0)
	}
	// Refill posts at most RxRingSize-1 buffers and writes RDT = RxRingSize-1
	// (the NIC sees no descriptor yet, so the write is not deferred):
	// RDT == RDH would mean "no buffers" (SDM 3.2.6).
	n.rx.Prime()

	rctl := intel.RCTL_EN | intel.RCTL_BAM | RCTL_BSIZE_2048 | intel.RCTL_SECRC | RCTL_RDMTS_HALF
	if n.opts.Promisc {
		rctl |= intel.RCTL_UPE | intel.RCTL_MPE
	}
	n.wr(intel.RCTL, rctl)
}

// setupTx programs the TX ring (SDM 14.5; 82574 4.6.6).
func (n *NIC) setupTx() {
	base := n.txMem.Addr()
	n.wr(TDBAL(0), uint32(base))
	n.wr(TDBAH(0), uint32(base>>32))
	n.wr(TDLEN(0), uint32(n.opts.TxRingSize*DescSize))
	n.wr(TDH(0), 0)
	n.wr(TDT(0), 0)

	// Full duplex copper: CT = 0x0F, COLD = 0x40 (SDM 14.5, 13.4.33); the
	// 82574 wants COLD = 0x3F (Linux E1000_COLLISION_DISTANCE) and IPGT 8
	// (its TIPG default); the 8254x copper IPGT is 10 (SDM 13.4.34).
	cold, ipgt := uint32(0x40), uint32(10)
	if n.model.is82574() {
		cold, ipgt = 0x3F, 8
		// QEMU's e1000e transmits only from queues with TARC.ENABLE; it is
		// the reset default, set it anyway (82574 10.2.6.11).
		n.set(TARC(0), TARC_ENABLE)
	}
	n.wr(TIPG, ipgt<<TIPG_IPGT_SHIFT|8<<TIPG_IPGR1_SHIFT|6<<TIPG_IPGR2_SHIFT)
	n.wr(intel.TCTL, intel.TCTL_EN|intel.TCTL_PSP|0x0F<<TCTL_CT_SHIFT|cold<<TCTL_COLD_SHIFT)
}

// setupIRQ programs throttling and, for MSI-X, the cause-to-vector routing.
// Interrupts stay masked.
func (n *NIC) setupIRQ() {
	if n.model.hasITR() {
		n.wr(ITR, n.opts.ITR)
	}
	n.causes = IRQCauses{RX: ICR_RXT0 | ICR_RXO | ICR_RXDMT0, TX: ICR_TXDW, Other: ICR_LSC}
	if !n.model.is82574() {
		return
	}
	// QEMU's e1000e clears ICR on read only when IMS is 0, CTRL_EXT.IAME is
	// set, or (newer versions) MSI-X is off; real 82574s clear on read except
	// in MSI-X mode (82574 10.2.4.1). Writing the read value back is correct
	// everywhere, so ReadCause always does it on the 82574.
	n.w1cICR = true
	if !n.opts.MSIX {
		return
	}
	// 82574 7.4.2 / 10.2.4.9: route RXQ0, TXQ0 and other causes to vectors
	// 0, 1, 2; QEMU drops MSI-X interrupts whose IVAR entry is not valid.
	// Bit 31: a TX interrupt on every descriptor write-back (as Linux).
	n.wr(IVAR, (IVAR_INT_ALLOC_VALID|VecRX)<<IVAR_RXQ0_SHIFT|
		(IVAR_INT_ALLOC_VALID|VecTX)<<IVAR_TXQ0_SHIFT|
		(IVAR_INT_ALLOC_VALID|VecOther)<<IVAR_OTHER_SHIFT|
		IVAR_TX_INT_EVERY_WB)
	// Auto-clear each vector's cause in ICR when its message is sent
	// (EIAC, 82574 10.2.4.8): in MSI-X mode a read does not clear ICR, and a
	// cause left set is never signalled again. EIAME + PBA_CLR as Linux
	// e1000_configure_msix; IAME off so an ICR read masks nothing.
	n.wr(EIAC, uint32(ICR_RXQ0|ICR_TXQ0|ICR_OTHER))
	ext := n.rd(intel.CTRL_EXT)
	ext &^= CTRL_EXT_IAME
	ext |= CTRL_EXT_EIAME | CTRL_EXT_PBA_CLR
	n.wr(intel.CTRL_EXT, ext)
	for v := VecRX; v <= VecOther; v++ {
		n.wr(EITR(v), n.opts.ITR)
	}
	n.causes = IRQCauses{RX: ICR_RXQ0, TX: ICR_TXQ0, Other: ICR_OTHER | ICR_LSC}
}
