package igb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"sync/atomic"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

// Delays and timeouts of the init sequence, after Linux igb
// (e1000_reset_hw_82575, e1000_disable_pcie_master, igb_configure_rx_ring).
const (
	quiesceDelay  = 10 * time.Millisecond  // let DMA in flight finish before reset
	masterTimeout = 80 * time.Millisecond  // STATUS.GIO_MASTER_ENABLE to clear
	resetDelay    = 10 * time.Millisecond  // after CTRL.RST (82576 4.3.1: NVM auto-read)
	enableTimeout = 10 * time.Millisecond  // RXDCTL/TXDCTL.ENABLE to read back 1
	mdicTimeout   = 10 * time.Millisecond  // MDIC.READY
	pollInterval  = 100 * time.Microsecond // for the waits above
)

// Queue thresholds (RXDCTL/TXDCTL bits 0-4, 8-12, 16-20): prefetch when 8
// descriptors are free and the host holds 8 (RX) or 1 (TX); write back each
// descriptor at once (WTHRESH 1), latency over PCIe efficiency. igb uses
// 8/8/1 for RX with MSI-X on the 82576.
const (
	rxdctlThresh = 8 | 8<<8 | 1<<16
	txdctlThresh = 8 | 1<<8 | 1<<16
)

func (n *NIC) allocate(alloc dma.Allocator) error {
	q := n.opts.Queues
	n.rxMem = make([]*dma.Region, q)
	n.txMem = make([]*dma.Region, q)
	n.rx = make([]*driver.RxRing, q)
	n.tx = make([]*driver.TxRing, q)
	for i := range n.rx {
		var err error
		if n.rxMem[i], err = alloc.Alloc(n.opts.RxRingSize * DescSize); err != nil {
			return fmt.Errorf("RX ring %d: %w", i, err)
		}
		if n.txMem[i], err = alloc.Alloc(n.opts.TxRingSize * DescSize); err != nil {
			return fmt.Errorf("TX ring %d: %w", i, err)
		}
		if !aligned(n.rxMem[i].Bytes(), 8) || !aligned(n.txMem[i].Bytes(), 8) || n.rxMem[i].Addr()%128 != 0 || n.txMem[i].Addr()%128 != 0 {
			return errors.New("descriptor ring not 128-byte aligned")
		}
		if n.rx[i], err = driver.NewRxRing(rxCodec{}, n.pool, n.regs, uint32(RDT(i)),
			n.rxMem[i].Bytes(), n.opts.RxRingSize, DescSize); err != nil {
			return err
		}
		if n.tx[i], err = driver.NewTxRing(txCodec{}, n.pool, n.regs, uint32(TDT(i)),
			n.txMem[i].Bytes(), n.opts.TxRingSize, DescSize); err != nil {
			return err
		}
	}
	n.on = make([]atomic.Uint32, q+1)
	n.wd = make([]watchState, q)
	return nil
}

// release returns the rings' buffers to the pool and frees the rings. Only
// call it once the NIC is reset (stop): it must no longer write them.
func (n *NIC) release() {
	for _, r := range n.rx {
		if r != nil {
			r.Release()
		}
	}
	for _, t := range n.tx {
		if t != nil {
			t.Release()
		}
	}
	for _, m := range append(n.rxMem, n.txMem...) {
		if m != nil {
			m.Close()
		}
	}
	n.rxMem, n.txMem = nil, nil
}

// init follows 82576 4.5 ("Software Initialization and Diagnostics"): mask
// interrupts, reset, mask again, link, receive, transmit, interrupts.
func (n *NIC) init() error {
	n.reset()
	// 4.5.3: the driver takes over from the firmware.
	n.set(intel.CTRL_EXT, intel.CTRL_EXT_DRV_LOAD)
	mac, err := n.readMAC()
	if err != nil {
		return err
	}
	if n.info.Name == "" {
		// The first init describes the NIC; a Reinit leaves the
		// description the core holds alone.
		n.describe(mac)
	}
	if err := n.setupLink(); err != nil {
		return err
	}
	for i := 0; i < 128; i++ {
		n.wr(intel.MTA(i), 0)
	}
	if err := n.setupRX(); err != nil {
		return err
	}
	if err := n.setupTX(); err != nil {
		return err
	}
	n.setupIRQ()
	return nil
}

// describe fills Info: it does not change after New.
func (n *NIC) describe(mac net.HardwareAddr) {
	n.info = driver.NICInfo{
		Name: n.model.Name, MAC: mac, Queues: n.opts.Queues, MaxQueues: n.model.MaxQueues,
		RSS: n.opts.RSS != nil, Extras: extraNames(n.opts.Queues),
	}
	if len(n.opts.Vectors) > 0 {
		n.info.Vectors = n.opts.Vectors
		n.info.QueueVector = make([]int, n.opts.Queues)
		for q := range n.info.QueueVector {
			n.info.QueueVector[q] = q
		}
	}
}

// reset quiesces and resets the MAC (82576 4.3.1 software reset; Linux
// e1000_reset_hw_82575).
func (n *NIC) reset() {
	n.maskAll()
	n.wr(intel.RCTL, 0)
	n.wr(intel.TCTL, intel.TCTL_PSP)
	n.rd(intel.STATUS) // flush
	time.Sleep(quiesceDelay)
	// 5.2.3.3 (master disable): block new DMA before the reset; it is not
	// an error if requests stay pending, the reset ends them.
	n.set(intel.CTRL, CTRL_GIO_MASTER_DISABLE)
	_ = mmio.WaitBits(n.regs, uint32(intel.STATUS), STATUS_GIO_MASTER_ENABLE, 0, masterTimeout)
	n.wr(intel.CTRL, n.rd(intel.CTRL)|intel.CTRL_RST)
	// The reset reloads the MAC from the NVM (EECD.AUTO_RD). Linux waits up
	// to 10 ms for AUTO_RD and goes on without it; QEMU never sets it.
	time.Sleep(resetDelay)
	n.maskAll()
	n.rd(intel.ICR)
}

func (n *NIC) maskAll() {
	n.wr(EIMC, ^uint32(0))
	n.wr(intel.IMC, ^uint32(0))
}

// readMAC takes the station address from RAL0/RAH0, which the NIC loads from
// its NVM at reset (Linux igb reads it the same way).
func (n *NIC) readMAC() (net.HardwareAddr, error) {
	lo, hi := n.rd(intel.RAL(0)), n.rd(intel.RAH(0))
	if hi&RAH_AV == 0 {
		return nil, errors.New("RAH0 holds no valid station address after reset (NVM not loaded?)")
	}
	mac := make(net.HardwareAddr, 6)
	binary.LittleEndian.PutUint32(mac, lo)
	binary.LittleEndian.PutUint16(mac[4:], uint16(hi))
	if mac[0]&1 != 0 || (lo == 0 && uint16(hi) == 0) {
		return nil, fmt.Errorf("station address %v from RAL0/RAH0 is not a unicast address", mac)
	}
	return mac, nil
}

// probe turns off a step the driver takes because QEMU's igb needs it, so
// that a lab test can show it does (TestGuestQuirksIGB). Never set outside
// tests.
var probe struct {
	noAutoneg bool // skip the PHY auto-negotiation restart
	noPCSD    bool // leave RXCSUM.PCSD clear under RSS
}

// setupLink sets link up on the MAC side and restarts auto-negotiation on
// the internal copper PHY (82576 4.5.7.2; Linux igb_setup_copper_link_82575
// and igb_copper_link_autoneg), then waits for STATUS.LU. QEMU's igb leaves
// the link down after a reset until the PHY's auto-negotiation is restarted
// (BMCR.RESTART_AUTONEG, done 500 ms later in virtual time).
func (n *NIC) setupLink() error {
	ctrl := n.rd(intel.CTRL)&^(intel.CTRL_FRCSPD|intel.CTRL_FRCDPX) | intel.CTRL_SLU
	n.wr(intel.CTRL, ctrl)
	bmcr := uint32(MII_CR_AUTO_NEG_EN | MII_CR_RESTART_AUTONEG | MII_CR_FULL_DUPLEX | MII_CR_SPEED_1000)
	if probe.noAutoneg {
		bmcr &^= MII_CR_RESTART_AUTONEG
	}
	if err := n.writePHY(PHY_CONTROL, bmcr); err != nil {
		return err
	}
	_ = mmio.WaitBits(n.regs, uint32(intel.STATUS), intel.STATUS_LU, intel.STATUS_LU, n.opts.LinkWait)
	return nil // a link that comes up later is reported by ReadStats
}

func (n *NIC) writePHY(reg int, v uint32) error {
	n.wr(MDIC, v&0xFFFF|uint32(reg)<<MDIC_REG_SHIFT|PHY_ADDR<<MDIC_PHY_SHIFT|MDIC_OP_WRITE)
	if err := mmio.WaitBits(n.regs, uint32(MDIC), MDIC_READY, MDIC_READY, mdicTimeout); err != nil {
		return fmt.Errorf("PHY write of register %d: MDIC not ready: %w", reg, err)
	}
	if n.rd(MDIC)&MDIC_ERROR != 0 {
		return fmt.Errorf("PHY write of register %d: MDIC error", reg)
	}
	return nil
}

// setupRX programs every RX queue, RSS, and then enables the receiver
// (82576 4.5.9 and 7.1.1.1: a queue's tail is written only once the queue
// is enabled).
func (n *NIC) setupRX() error {
	for q := range n.rx {
		n.wr(RXDCTL(q), 0)
		n.wr(RDBAL(q), uint32(n.rxMem[q].Addr()))
		n.wr(RDBAH(q), uint32(n.rxMem[q].Addr()>>32))
		n.wr(RDLEN(q), uint32(n.opts.RxRingSize*DescSize))
		n.wr(RDH(q), 0)
		n.wr(RDT(q), 0)
		srrctl := uint32(driver.BufSize>>10) | SRRCTL_DESCTYPE_ADV_ONEBUF
		if n.opts.Queues > 1 {
			// A queue without descriptors drops its own frames
			// (counted in RQDPC) instead of stalling the others.
			srrctl |= SRRCTL_DROP_EN
		}
		n.wr(SRRCTL(q), srrctl)
		n.wr(RXDCTL(q), rxdctlThresh|RXDCTL_QUEUE_ENABLE)
		if err := mmio.WaitBits(n.regs, uint32(RXDCTL(q)), RXDCTL_QUEUE_ENABLE, RXDCTL_QUEUE_ENABLE, enableTimeout); err != nil {
			return fmt.Errorf("RX queue %d: RXDCTL.ENABLE did not read back: %w", q, err)
		}
	}
	// No checksum offload: the driver reports no checksum status, and a
	// checksum the NIC judged bad must not turn up as an error of a frame
	// the caller checks itself. (RSS then sets PCSD.)
	n.wr(RXCSUM, 0)
	n.setupRSS()
	rctl := intel.RCTL_EN | intel.RCTL_BAM | intel.RCTL_SECRC
	if n.opts.Promisc {
		rctl |= intel.RCTL_UPE | intel.RCTL_MPE
	}
	n.wr(intel.RCTL, rctl)
	for _, r := range n.rx {
		r.Prime()
	}
	return nil
}

func (n *NIC) setupTX() error {
	for q := range n.tx {
		n.wr(TXDCTL(q), 0)
		n.wr(TDBAL(q), uint32(n.txMem[q].Addr()))
		n.wr(TDBAH(q), uint32(n.txMem[q].Addr()>>32))
		n.wr(TDLEN(q), uint32(n.opts.TxRingSize*DescSize))
		n.wr(TDH(q), 0)
		n.wr(TDT(q), 0)
		n.wr(TXDCTL(q), txdctlThresh|TXDCTL_QUEUE_ENABLE)
		if err := mmio.WaitBits(n.regs, uint32(TXDCTL(q)), TXDCTL_QUEUE_ENABLE, TXDCTL_QUEUE_ENABLE, enableTimeout); err != nil {
			return fmt.Errorf("TX queue %d: TXDCTL.ENABLE did not read back: %w", q, err)
		}
	}
	n.wr(intel.TCTL, intel.TCTL_EN|intel.TCTL_PSP|TCTL_CT|TCTL_COLD|intel.TCTL_RTLC)
	return nil
}

// stop quiesces and resets the device so that it no longer reads or writes
// the rings or buffers.
func (n *NIC) stop() {
	n.maskAll()
	n.clr(intel.CTRL_EXT, intel.CTRL_EXT_DRV_LOAD)
	n.reset()
}
