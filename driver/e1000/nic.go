package e1000

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/mmio"
)

// Options configures New. The zero value is a working configuration.
type Options struct {
	// RxRingSize is the number of RX descriptors: a power of two from 8 to
	// 4096 (RDLEN must be a multiple of 128 bytes, SDM 13.4.27). 0 means 512.
	// At most RxRingSize-1 buffers are ever posted (see doc.go, invariants).
	RxRingSize int

	// TxRingSize is the number of TX descriptors, with the same rules as
	// RxRingSize. 0 means 512. At most TxRingSize-1 frames are in flight.
	TxRingSize int

	// Buffers is the number of packet buffers in the pool Open makes. It
	// must be at least RxRingSize. 0 means 2*RxRingSize + TxRingSize: a
	// full RX ring, as many received frames held by the consumer, and a
	// full TX ring. New takes the pool it is given and ignores it.
	Buffers int

	// ITR is the minimum interval between interrupts in units of 256 ns: the
	// ITR register (SDM 13.4.18), and in MSI-X mode every EITR. 0 disables
	// throttling; 1000 (256 µs) caps the rate at ~4000 interrupts/s. Values
	// above 0xFFFF are clamped. Ignored on the 82544GC, which has no ITR.
	// QEMU's e1000e enforces a floor of 500 (128 µs) whatever is written.
	ITR uint32

	// MSIX routes RX queue 0, TX queue 0 and other causes to MSI-X vectors
	// VecRX, VecTX and VecOther through IVAR (82574 10.2.4.9). 82574L only;
	// New fails for other models. false means INTx or MSI (one vector).
	MSIX bool

	// Promisc accepts every unicast and multicast frame (RCTL.UPE|MPE).
	// false accepts frames for MAC() and broadcast only.
	Promisc bool
}

// Defaults for Options' zero values.
const (
	DefaultRingSize = 512
	MinRingSize     = 8
	MaxRingSize     = 4096
)

// MSI-X vectors used with Options.MSIX.
const (
	VecRX    = 0 // RX queue 0 (ICR_RXQ0)
	VecTX    = 1 // TX queue 0 (ICR_TXQ0)
	VecOther = 2 // link and everything else (ICR_OTHER)
)

// BufSize is the size of every packet buffer, the core's: RCTL.BSIZE = 2048
// (SDM 13.4.22) holds a 1522-byte VLAN frame, so one frame is always one
// descriptor.
const BufSize = driver.BufSize

// IRQCauses groups the interrupt causes by the work they signal, for the mode
// the NIC was set up in (see NIC.Causes).
type IRQCauses struct {
	RX    Cause // frames received or RX ring ran out of buffers
	TX    Cause // TX descriptors written back
	Other Cause // link status change and the rest
}

// All is every cause in c.
func (c IRQCauses) All() Cause { return c.RX | c.TX | c.Other }

// Extra counters the e1000 reports beside the generic ones, in
// driver.NICStats.Extra order.
var e1000Extras = []string{"rx_errors", "rx_fragments", "rx_jabbers", "collisions", "rx_broadcast", "rx_multicast"}

// NIC is one initialised controller: driver.NIC with one queue (the
// 82574L's second RX queue is not used), over registers, rings from a DMA
// allocator and buffers from a driver.BufPool that the caller owns.
//
// Concurrency is driver.NIC's: one goroutine at a time on the RX path
// (RxBurst, Refill), one on the TX path (TxBurst, Reclaim, FlushTx); the
// interrupt methods from any goroutine. The packet path takes no lock:
// Reinit stops it through the rings' gates. Close must not run concurrently
// with anything else: stop the packet paths first.
type NIC struct {
	regs  mmio.Regs
	model Model
	opts  Options
	mac   net.HardwareAddr
	info  driver.NICInfo
	pool  *driver.BufPool

	// w1cICR: ICR must be written back to be cleared (82574: MSI-X mode, and
	// QEMU's e1000e also when IMS != 0 and CTRL_EXT.IAME is clear).
	w1cICR bool
	causes IRQCauses

	rxMem, txMem *dma.Region
	rx           *driver.RxRing
	tx           *driver.TxRing

	// irqOn is the causes software has unmasked (SetIRQ) and not masked
	// since: Reinit restores it, since a reset clears IMS.
	irqOn atomic.Uint32
	// irqMu guards rxOn and rxAutoMasked and orders the IMS/IMC writes for
	// the RX cause between the top half (AckIRQ, the RX vector's Unmask)
	// and the bottom half (SetIRQ). It is taken per interrupt, not per
	// burst.
	irqMu        sync.Mutex
	rxOn         bool // software wants RX interrupts
	rxAutoMasked bool // MSI-X: the NIC masked RXQ0 as it fired and nobody re-armed it yet

	hwMu     sync.Mutex // guards hw, reported and the statistics register reads
	hw       HWStats    // accumulated from the NIC, also across Reinit
	reported HWStats    // what ReadStats has reported so far
	wd       watchState // CheckHang only

	closeOnce sync.Once
	closeErr  error
	kept      bool // Close kept the DMA memory: the reset failed
}

var (
	_ driver.NIC       = (*NIC)(nil)
	_ driver.TxBatcher = (*NIC)(nil)
	_ driver.Resetter  = (*NIC)(nil)
	_ driver.BufSizer  = (*NIC)(nil)
)

// Info describes the NIC (driver.NIC).
func (n *NIC) Info() *driver.NICInfo { return &n.info }

// Model returns the controller model.
func (n *NIC) Model() Model { return n.model }

// MAC returns the station address (RAL0/RAH0). The caller must not modify it.
func (n *NIC) MAC() net.HardwareAddr { return n.mac }

// Causes returns the interrupt causes for RX, TX and other work in the mode
// New set up: RXT0|RXO|RXDMT0, TXDW and LSC for INTx/MSI; RXQ0, TXQ0 and
// OTHER|LSC for MSI-X.
func (n *NIC) Causes() IRQCauses { return n.causes }

// BufSize is the size of every packet buffer (driver.BufSizer).
func (n *NIC) BufSize() int { return BufSize }

// Pool is the buffer pool New was given.
func (n *NIC) Pool() *driver.BufPool { return n.pool }

// setVectors records the interrupt vectors the bus attached: every vector
// serves queue 0; with MSI-X its RX vector is the one a received frame
// fires, and its Unmask re-arms RXQ0 (see AckIRQ).
func (n *NIC) setVectors(vs []driver.Vector) {
	n.info.Vectors, n.info.QueueVector = vs, nil
	if len(vs) == 0 {
		return
	}
	n.info.QueueVector = []int{0}
	if n.opts.MSIX && len(vs) > VecRX {
		n.info.QueueVector[0] = VecRX
		vs[VecRX].Unmask = n.rearmRX
	}
}

func (n *NIC) rd(r Reg) uint32     { return n.regs.Read32(uint32(r)) }
func (n *NIC) wr(r Reg, v uint32)  { n.regs.Write32(uint32(r), v) }
func (n *NIC) set(r Reg, v uint32) { mmio.SetBits(n.regs, uint32(r), v) }
