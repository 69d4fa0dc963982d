package driver

import (
	"fmt"
	"net"
)

// NIC is the queue-based interface a driver implements for the core. It is
// as narrow as ixy's: four operations per queue, and at device level its
// description, interrupt control, statistics and Close. Everything common to
// NICs lives in the core instead: the buffer pool (BufPool, handed to the
// driver when it opens), the top and bottom halves, the handlers and the
// software counters. The driver package's conformance kit (drivertest) says
// what each method must do; a new driver runs it.
//
// Queues are numbered 0..Info().Queues-1; each is an RX ring and a TX ring.
// Concurrency: the RX operations of one queue (RxBurst, Refill) are called
// from one goroutine at a time, as are its TX operations (TxBurst, Reclaim);
// different queues run concurrently and share nothing but the pool. The
// device-level methods may be called from any goroutine.
//
// The per-queue operations are the packet path: they allocate nothing and
// return counts, never errors.
type NIC interface {
	// Info describes the device; it does not change after open.
	Info() *NICInfo

	// RxBurst copies up to len(out) received frames of queue q into out;
	// their buffers now belong to the caller (give them back to the pool,
	// or transmit them).
	RxBurst(q int, out []RxDesc) int
	// Refill posts free pool buffers to queue q's RX ring and returns how
	// many it posted. The driver decides when to tell the NIC (tail
	// writes are traps: it may batch them), but buffers posted while the
	// NIC could run dry are made visible at once.
	Refill(q int) int
	// TxBurst queues frames on queue q and returns how many it took;
	// their buffers belong to the device until Reclaim returns them to
	// the pool. Frames it cannot take (ring full, Len 0 or above BufSize)
	// stay the caller's.
	TxBurst(q int, pkts []TxDesc) int
	// Reclaim returns the buffers of transmitted frames of queue q to the
	// pool and returns how many.
	Reclaim(q int) int

	// AckIRQ reads and acknowledges the causes of an interrupt on vector
	// vec (an index into Info().Vectors) and re-arms what the NIC
	// auto-masked.
	AckIRQ(vec int) Causes
	// SetIRQ enables (on) or masks causes c on vector vec, through the
	// cheapest mechanism the vector offers.
	SetIRQ(vec int, c Causes, on bool)

	// ReadStats adds the device's counters read since the last call to s,
	// and reports the link.
	ReadStats(s *NICStats)
	// Close stops the device: interrupts off, bus mastering off, reset. It
	// does not release the pool (the core does, once the device can no
	// longer write it). Idempotent.
	Close() error
}

// NICInfo describes an opened NIC.
type NICInfo struct {
	Name string // the model, e.g. "82540EM"
	MAC  net.HardwareAddr
	// Queues is the number of RX/TX queue pairs in use, MaxQueues how many
	// the model has.
	Queues, MaxQueues int
	// Vectors are the interrupt vectors (none when polling). QueueVector[q]
	// is the index in Vectors of queue q's vector; several queues may share
	// one (a single INTx line signals them all).
	Vectors     []Vector
	QueueVector []int
	// RSS says that received flows are spread over the queues by a
	// Toeplitz hash and a redirection table (see RSS).
	RSS bool
	// Extras names the driver-specific counters, in NICStats.Extra order.
	Extras []string
}

// Validate checks the invariants the core relies on.
func (i *NICInfo) Validate() error {
	if i.Queues < 1 || i.Queues > i.MaxQueues {
		return fmt.Errorf("%w: %s: %d queues in use, model has %d", ErrBadConfig, i.Name, i.Queues, i.MaxQueues)
	}
	if len(i.MAC) != 6 {
		return fmt.Errorf("%w: %s: MAC %v is not 6 bytes", ErrBadConfig, i.Name, i.MAC)
	}
	if len(i.Vectors) > 0 {
		if len(i.QueueVector) != i.Queues {
			return fmt.Errorf("%w: %s: %d queue vectors for %d queues", ErrBadConfig, i.Name, len(i.QueueVector), i.Queues)
		}
		for q, v := range i.QueueVector {
			if v < 0 || v >= len(i.Vectors) {
				return fmt.Errorf("%w: %s: queue %d on vector %d of %d", ErrBadConfig, i.Name, q, v, len(i.Vectors))
			}
		}
	}
	if i.RSS && i.Queues < 2 {
		return fmt.Errorf("%w: %s: RSS over %d queue", ErrBadConfig, i.Name, i.Queues)
	}
	return nil
}

// MaxExtras is how many driver-specific counters NICStats carries.
const MaxExtras = 16

// NICStats are a NIC's own counters under generic names, accumulated across
// the registers' clear-on-read, plus driver-specific extras. It is a plain
// value (no maps, no slices) so that reading it allocates nothing.
type NICStats struct {
	RxPackets      uint64 // good frames received
	RxBytes        uint64 // good octets received
	RxMissed       uint64 // frames missed: the NIC's RX FIFO was full
	RxNoBuffer     uint64 // frames that found no free descriptor
	RxCRCErrors    uint64
	RxLengthErrors uint64
	RxUndersize    uint64
	RxOversize     uint64
	TxPackets      uint64 // good frames transmitted
	TxBytes        uint64 // good octets transmitted
	// Extra[i] is the counter named NICInfo.Extras[i].
	Extra [MaxExtras]uint64

	Link      bool
	SpeedMbps int
}

// Buffers is the packet buffer pool as the core, the handlers and the
// conformance kit use it. BufPool implements it.
type Buffers interface {
	// Packet is n bytes of buffer b (a view of DMA memory).
	Packet(b uint32, n int) []byte
	Get() (uint32, bool)
	PutMany(bs []uint32)
	// Available is how many buffers are free (neither posted to a NIC nor
	// held by the core).
	Available() int
}

var _ Buffers = (*BufPool)(nil)
