package driver

import (
	"fmt"
	"net"
	"strings"
)

// Causes are interrupt causes, as the NIC-agnostic core understands them.
type Causes uint8

const (
	CauseRX   Causes = 1 << iota // frames received (or RX ring low)
	CauseTX                      // TX descriptors written back
	CauseLink                    // link status change
)

func (c Causes) String() string {
	var s []string
	for _, x := range []struct {
		c    Causes
		name string
	}{{CauseRX, "rx"}, {CauseTX, "tx"}, {CauseLink, "link"}} {
		if c&x.c != 0 {
			s = append(s, x.name)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "|")
}

// RxDesc is one received frame as the top half hands it to the bottom half:
// a 16-byte value with no pointers, so the ring between them holds plain data.
type RxDesc struct {
	Buf    uint32 // buffer index in the device's pool; owned by whoever holds the RxDesc
	Len    uint16 // frame length without CRC
	Status uint8  // device-specific status bits
	Errors uint8  // device-specific error bits; non-zero means the NIC flagged the frame
	VLAN   uint16
	Flags  RxFlags // what the driver found wrong with the frame; non-zero means drop it
	_      [5]byte
}

// RxFlags are a driver's own verdicts on a received frame, NIC-agnostic.
type RxFlags uint8

const (
	// RxIncomplete: the frame spanned several descriptors (its first had no
	// end-of-packet bit). The driver freed the other buffers and hands over
	// the first; the core drops it as DropNoEOP.
	RxIncomplete RxFlags = 1 << iota
)

// DefaultBufSize is the size of a packet buffer when the Device does not say
// otherwise (BufSizer).
const DefaultBufSize = 2048

// BufSizer is implemented by a Device whose packet buffers are not
// DefaultBufSize bytes. The core never transmits a frame longer than this.
type BufSizer interface {
	BufSize() int
}

// TxDesc is a frame to transmit: Len bytes at the start of buffer Buf.
type TxDesc struct {
	Buf uint32
	Len uint16
}

// HWStats are the NIC's own counters that every supported NIC has,
// accumulated across clear-on-read.
type HWStats struct {
	RxGood      uint64 // good frames received (GPRC)
	TxGood      uint64 // good frames transmitted (GPTC)
	RxMissed    uint64 // frames missed: RX FIFO full (MPC)
	RxNoBuf     uint64 // frames received with no descriptor available (RNBC)
	RxCRCErr    uint64 // CRC errors (CRCERRS)
	RxLenErr    uint64 // length errors (RLEC)
	RxUndersize uint64 // undersize frames (RUC)
	RxOversize  uint64 // oversize frames (ROC)
	RxBytes     uint64 // good octets received (GORC)
	TxBytes     uint64 // good octets transmitted (GOTC)
}

// Vector is one interrupt vector of a device, as its backend delivers it.
type Vector struct {
	Name   string
	Fd     int          // readable when the interrupt fires (eventfd or /dev/uioN)
	Causes Causes       // what this vector signals
	Ack    func() error // consumes the fd's event; nil reads an 8-byte eventfd counter
	Unmask func() error // re-arms the line after the cause is acknowledged (VFIO INTx unmask, UIO INTx-disable clear); may be nil
}

// Device is what a NIC driver implements for the core.
//
// Concurrency: the RX methods (RxBurst, RefillRx) are called from one
// goroutine at a time, as are the TX methods (TxBurst, ReclaimTx); Packet,
// AllocBuf, FreeBufs and the interrupt methods from any goroutine.
type Device interface {
	// Name is the device's model for logs, e.g. "82540EM".
	Name() string
	MAC() net.HardwareAddr
	// RxBurst copies up to len(out) completed frames out of the RX ring.
	RxBurst(out []RxDesc) int
	// RefillRx gives the NIC fresh buffers, writing the tail once.
	RefillRx() int
	// RxPending reports whether a completed frame waits in the RX ring.
	RxPending() bool
	// TxBurst queues frames, writing the tail once; it returns how many it took
	// (ownership of their buffers passes to the device).
	TxBurst(pkts []TxDesc) int
	// ReclaimTx frees the buffers of transmitted frames.
	ReclaimTx() int
	// Packet is the bytes of a buffer (a view of DMA memory).
	Packet(buf uint32, n int) []byte
	AllocBuf() (uint32, bool)
	FreeBufs(bufs []uint32)
	// FreeBuffers is how many buffers the pool holds (neither posted to the
	// NIC nor held by the core).
	FreeBuffers() int
	// Kick raises an RX interrupt from software (the e1000's ICS register),
	// so the top half runs and refills an RX ring that ran out of buffers.
	Kick()
	// Vectors are the device's interrupt vectors (none in polling setups).
	Vectors() []Vector
	// AckIRQ reads and acknowledges the causes of an interrupt on vector
	// vec (an index into Vectors()) and re-arms what the NIC auto-masked.
	AckIRQ(vec int) Causes
	EnableIRQ(c Causes)
	DisableIRQ(c Causes)
	LinkUp() (up bool, speedMbps int)
	// ReadHWStats adds the counters read since the last call to s.
	ReadHWStats(s *HWStats)
	// Close stops the device (interrupts off, RX/TX off, reset) and releases
	// its DMA memory and interrupts. Idempotent.
	Close() error
}

// ErrBadConfig wraps configuration errors.
var ErrBadConfig = fmt.Errorf("driver: bad configuration")
