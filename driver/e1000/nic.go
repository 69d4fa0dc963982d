package e1000

import (
	"net"
	"sync"

	"github.com/uiodrv/uiodrv/dma"
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

	// Buffers is the number of 2 KiB packet buffers in the pool. It must be at
	// least RxRingSize. 0 means 2*RxRingSize + TxRingSize: a full RX ring, as
	// many received frames held by the consumer, and a full TX ring.
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

// RxPacket is one received frame, copied out of its descriptor by RxBurst.
// It is a 16-byte value so a burst array needs no pointers.
type RxPacket struct {
	Buf     uint32 // buffer index; the caller owns it until FreeBuf or TxBurst
	Len     uint16 // frame length without CRC; never more than BufSize
	Csum    uint16 // packet checksum from the descriptor
	Status  uint8  // RXD_STAT_* (DD always set; EOP set for a whole frame)
	Errors  uint8  // RXD_ERR_*; RXD_ERR_RXE is also set when the NIC reported a length > BufSize
	Special uint16 // VLAN tag when Status has RXD_STAT_VP
	_       uint32 // pad to 16 bytes
}

// TxPacket is one frame to transmit: Len bytes at the start of buffer Buf.
type TxPacket struct {
	Buf uint32 // buffer index; ownership passes to the NIC when TxBurst accepts it
	Len uint16 // 1..BufSize bytes, without CRC (the NIC appends it)
}

// IRQCauses groups the interrupt causes by the work they signal, for the mode
// the NIC was set up in (see NIC.Causes).
type IRQCauses struct {
	RX    Cause // frames received or RX ring ran out of buffers
	TX    Cause // TX descriptors written back
	Other Cause // link status change and the rest
}

// All is every cause in c.
func (c IRQCauses) All() Cause { return c.RX | c.TX | c.Other }

// NIC is one initialised controller.
//
// Concurrency: the RX path (RxBurst, RefillRx) must be called from one
// goroutine at a time, and so must the TX path (TxBurst, ReclaimTx); the two
// paths may run in different goroutines. AllocBuf, FreeBuf, Packet and the
// interrupt methods (ReadCause, EnableIRQ, DisableIRQ, TriggerIRQ) are safe
// from any goroutine. ReadStats must be called by one goroutine at a time
// because reading clears the counters. Close must not run concurrently with
// anything else: stop the packet paths first.
type NIC struct {
	regs  mmio.Regs
	model Model
	opts  Options
	mac   net.HardwareAddr

	// w1cICR: ICR must be written back to be cleared (82574: MSI-X mode, and
	// QEMU's e1000e also when IMS != 0 and CTRL_EXT.IAME is clear).
	w1cICR bool
	causes IRQCauses

	pool *pool

	// RX ring, owned by the RX path. Descriptors [rxClean, rxTail) are posted
	// (some may already be done); [rxTail, rxClean) are empty. rxRDT is the
	// value last written to RDT: the NIC sees [rxClean, rxRDT), and
	// [rxRDT, rxTail) are posted but not yet handed over (RefillRx batches
	// the write, rxFreeThresh at a time).
	rxRing       *dma.Region
	rxDescs      []byte
	rxMask       uint32
	rxClean      uint32
	rxTail       uint32
	rxRDT        uint32
	rxFreeThresh uint32
	rxBufs       []uint32 // buffer posted in each slot, noBuf if none
	rxFill       []uint32 // scratch for RefillRx
	// rxInFrame: RxBurst returned a descriptor without EOP; the frame's
	// remaining descriptors (up to EOP) are freed, not returned.
	rxInFrame bool

	// TX ring, owned by the TX path. Descriptors [txClean, txNext) are in
	// flight; txTail is the value last written to TDT, so [txTail, txNext)
	// are queued but wait for the doorbell (SetTxBatch, FlushTx).
	txRing  *dma.Region
	txDescs []byte
	txMask  uint32
	txClean uint32
	txTail  uint32
	txNext  uint32
	txBufs  []uint32 // buffer queued in each slot
	txFree  []uint32 // scratch for ReclaimTx
	// txRS[txRSHead..txRSTail) (indices modulo the ring size) are the
	// slots with RS set, oldest first: where DD comes back. At most one
	// per descriptor, so a ring's worth of entries is enough.
	txRS         []uint32
	txRSHead     uint32
	txRSTail     uint32
	txUnreported int // descriptors queued since the last with RS
	txBatch      int // SetTxBatch; <= 1 rings the doorbell per TxBurst

	closeOnce sync.Once
	closeErr  error
	kept      bool // Close kept the DMA memory: the reset failed
}

// Model returns the controller model.
func (n *NIC) Model() Model { return n.model }

// MAC returns the station address (RAL0/RAH0). The caller must not modify it.
func (n *NIC) MAC() net.HardwareAddr { return n.mac }

// Causes returns the interrupt causes to enable for RX, TX and other work in
// the mode New set up: RXT0|RXO|RXDMT0, TXDW and LSC for INTx/MSI; RXQ0,
// TXQ0 and OTHER|LSC for MSI-X.
func (n *NIC) Causes() IRQCauses { return n.causes }

// RxRingSize and TxRingSize return the ring sizes in use.
func (n *NIC) RxRingSize() int { return len(n.rxBufs) }

// TxRingSize returns the number of TX descriptors.
func (n *NIC) TxRingSize() int { return len(n.txBufs) }

// Buffers returns the number of buffers in the pool.
func (n *NIC) Buffers() int { return int(n.pool.nbufs) }

// FreeBuffers returns how many buffers are in the pool right now.
func (n *NIC) FreeBuffers() int { return n.pool.Available() }

// AllocBuf takes a buffer from the pool, e.g. to build a frame for TxBurst.
// ok is false when the pool is empty. Safe from any goroutine.
func (n *NIC) AllocBuf() (buf uint32, ok bool) { return n.pool.Get() }

// FreeBuf returns a buffer to the pool. It panics on an index out of range or
// a buffer that is already free. Safe from any goroutine.
func (n *NIC) FreeBuf(buf uint32) { n.pool.Put(buf) }

// FreeBufs returns several buffers to the pool under one lock.
func (n *NIC) FreeBufs(bufs []uint32) { n.pool.PutMany(bufs) }

// Packet returns the first length bytes of buffer buf: a view into DMA memory,
// no copy. length is clamped to [0, BufSize]; buf out of range panics. The
// view is valid until the buffer is given back (FreeBuf, TxBurst, Close).
func (n *NIC) Packet(buf uint32, length int) []byte { return n.pool.bytes(buf, length) }

func (n *NIC) rd(r Reg) uint32     { return n.regs.Read32(uint32(r)) }
func (n *NIC) wr(r Reg, v uint32)  { n.regs.Write32(uint32(r), v) }
func (n *NIC) set(r Reg, v uint32) { mmio.SetBits(n.regs, uint32(r), v) }
