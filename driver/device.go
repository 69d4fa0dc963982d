package driver

import (
	"fmt"
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
	Buf    uint32 // buffer index in the pool; owned by whoever holds the RxDesc
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

// DefaultBufSize is the size of a packet buffer when neither the NIC nor its
// pool says otherwise (BufSizer).
const DefaultBufSize = 2048

// BufSizer is implemented by a NIC or a pool whose packet buffers are not
// DefaultBufSize bytes. The core never transmits a frame longer than this.
type BufSizer interface {
	BufSize() int
}

// TxDesc is a frame to transmit: Len bytes at the start of buffer Buf.
type TxDesc struct {
	Buf uint32
	Len uint16
}

// Vector is one interrupt vector of a device, as its backend delivers it.
type Vector struct {
	Name   string
	Fd     int          // readable when the interrupt fires (eventfd or /dev/uioN)
	Causes Causes       // what this vector signals
	Ack    func() error // consumes the fd's event; nil reads an 8-byte eventfd counter
	Unmask func() error // re-arms the line after the cause is acknowledged (VFIO INTx unmask, UIO INTx-disable clear); may be nil
}

// ErrBadConfig wraps configuration errors.
var ErrBadConfig = fmt.Errorf("driver: bad configuration")
