package driver

import (
	"fmt"
	"sync/atomic"
	"time"
)

// DropReason says why a received frame was not processed.
type DropReason int

const (
	DropRingFull DropReason = iota // the top half found the SPSC ring full
	DropRxError                    // the NIC flagged the frame (CRC, length, ...)
	DropPanic                      // the handler panicked on the frame's batch
	DropShutdown                   // still in the ring when the port closed
	DropNoEOP                      // the frame spanned descriptors (no end-of-packet bit): cut, so dropped whole
	numDropReasons
)

var dropNames = [...]string{"ring_full", "rx_error", "handler_panic", "shutdown", "rx_no_eop"}

func (r DropReason) String() string {
	if r >= 0 && int(r) < len(dropNames) {
		return dropNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", int(r))
}

// DropReasons lists every reason, for reports.
func DropReasons() []DropReason {
	r := make([]DropReason, numDropReasons)
	for i := range r {
		r[i] = DropReason(i)
	}
	return r
}

// counters are the port's software counters. Each is written by one thread
// (top half or bottom half) but read by any, hence atomics.
type counters struct {
	rxPackets, rxBytes atomic.Uint64 // taken off the NIC
	processed          atomic.Uint64 // seen by the handler
	txPackets, txBytes atomic.Uint64 // accepted by the NIC's TX ring
	txDropped          atomic.Uint64 // the handler asked to transmit but the TX ring was full (or no buffer to forward into)
	txInvalid          atomic.Uint64 // the handler asked to transmit (or forward) an empty frame or one larger than a buffer
	drops              [numDropReasons]atomic.Uint64
	irqs               atomic.Uint64 // top-half runs
	spurious           atomic.Uint64 // interrupts with no cause
	bhRuns             atomic.Uint64 // bottom-half polls
	panics             atomic.Uint64 // handler panics recovered
	linkUps, linkDowns atomic.Uint64
	resets             atomic.Uint64 // re-initialisations the watchdog did after finding a hang
}

// Stats is a snapshot of a port's counters.
type Stats struct {
	RxPackets uint64 // frames taken off the NIC
	RxBytes   uint64
	Processed uint64 // frames the handler saw
	Drops     [numDropReasons]uint64
	InFlight  uint64 // frames between the top half and the handler
	TxPackets uint64
	TxBytes   uint64
	TxDropped uint64
	TxInvalid uint64 // Transmit/Forward verdicts on empty or oversize frames: counted, buffer freed, nothing sent
	IRQs      uint64
	Spurious  uint64
	BHRuns    uint64
	Panics    uint64
	LinkUps   uint64
	LinkDowns uint64
	Resets    uint64 // device hangs found and re-initialised by the watchdog
	Link      bool
	SpeedMbps int
	HW        HWStats
	// Handoff is the top-half-to-bottom-half latency: p50 and p99 of the time
	// from scheduling the bottom half to its first line.
	HandoffP50, HandoffP99 time.Duration
	HandoffCount           uint64
}

// Dropped is the sum of all drops.
func (s *Stats) Dropped() uint64 {
	var n uint64
	for _, d := range s.Drops {
		n += d
	}
	return n
}

// Accounted reports whether every frame that entered is processed, dropped
// with a reason, or still in flight.
func (s *Stats) Accounted() bool {
	return s.RxPackets == s.Processed+s.Dropped()+s.InFlight
}

func (s *Stats) String() string {
	d := ""
	for i, n := range s.Drops {
		if n != 0 {
			d += fmt.Sprintf(" %s=%d", DropReason(i), n)
		}
	}
	if d == "" {
		d = " none"
	}
	return fmt.Sprintf("rx %d (%d B) processed %d drops:%s tx %d (%d B) tx_dropped %d tx_invalid %d irqs %d bh_runs %d panics %d hw: rx_good %d tx_good %d missed %d no_buf %d",
		s.RxPackets, s.RxBytes, s.Processed, d, s.TxPackets, s.TxBytes, s.TxDropped, s.TxInvalid, s.IRQs, s.BHRuns, s.Panics,
		s.HW.RxGood, s.HW.TxGood, s.HW.RxMissed, s.HW.RxNoBuf)
}
