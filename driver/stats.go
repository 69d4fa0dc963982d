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

// counters are a queue's software counters. Each is written by one thread
// (the queue's top half or bottom half) but read by any, hence atomics.
type counters struct {
	rxPackets, rxBytes atomic.Uint64 // taken off the NIC
	processed          atomic.Uint64 // seen by the handler
	txPackets, txBytes atomic.Uint64 // accepted by the NIC's TX ring
	txDropped          atomic.Uint64 // the handler asked to transmit but the TX ring was full (or no buffer to forward into)
	txInvalid          atomic.Uint64 // the handler asked to transmit (or forward) an empty frame or one larger than a buffer
	drops              [numDropReasons]atomic.Uint64
	irqs               atomic.Uint64 // top-half runs (of the vectors whose first queue this is)
	spurious           atomic.Uint64 // interrupts with no cause
	bhRuns             atomic.Uint64 // bottom-half polls
}

// portCounters are the port-wide software counters.
type portCounters struct {
	panics             atomic.Uint64 // handler panics recovered
	linkUps, linkDowns atomic.Uint64
	resets             atomic.Uint64 // re-initialisations the watchdog did after finding a hang
}

// QueueStats are one queue's counters.
type QueueStats struct {
	CPU       int    // the queue's core (Config.IRQCPUs), -1 unpinned
	RxPackets uint64 // frames taken off the NIC's queue
	RxBytes   uint64
	Processed uint64 // frames the handler saw
	Dropped   uint64 // frames dropped, every reason
	TxPackets uint64 // frames the queue's TX ring accepted
	IRQs      uint64 // interrupts its top half handled
	BHRuns    uint64 // bottom-half polls
}

// Stats is a snapshot of a port's counters, summed over its queues; Queues
// has each queue's own.
type Stats struct {
	RxPackets uint64 // frames taken off the NIC
	RxBytes   uint64
	Processed uint64 // frames the handler saw
	Drops     [numDropReasons]uint64
	InFlight  uint64 // frames between the top halves and the handler
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
	// HW is the NIC's own counters (NICStats; the names of its extras are
	// Port.Info().Extras).
	HW NICStats
	// Queues are the per-queue counters, by queue index.
	Queues []QueueStats
	// Handoff is the top-half-to-bottom-half latency: p50 and p99 of the time
	// from scheduling the bottom half to its first line.
	HandoffP50, HandoffP99 time.Duration
	HandoffCount           uint64
}

// Stats returns a snapshot of the counters, reading the NIC's hardware
// counters (which clear on read) into the accumulated totals.
func (p *Port) Stats() Stats {
	var s Stats
	p.readStats(&s.HW)
	s.Link, s.SpeedMbps = p.link.Load(), int(p.speed.Load())
	s.Panics = p.pc.panics.Load()
	s.LinkUps = p.pc.linkUps.Load()
	s.LinkDowns = p.pc.linkDowns.Load()
	s.Resets = p.pc.resets.Load()
	s.Queues = make([]QueueStats, len(p.queues))
	for i, q := range p.queues {
		c := &q.c
		qs := QueueStats{
			CPU:       q.core,
			RxPackets: c.rxPackets.Load(),
			RxBytes:   c.rxBytes.Load(),
			Processed: c.processed.Load(),
			TxPackets: c.txPackets.Load(),
			IRQs:      c.irqs.Load(),
			BHRuns:    c.bhRuns.Load(),
		}
		for r := range s.Drops {
			d := c.drops[r].Load()
			s.Drops[r] += d
			qs.Dropped += d
		}
		s.Queues[i] = qs
		s.RxPackets += qs.RxPackets
		s.RxBytes += qs.RxBytes
		s.Processed += qs.Processed
		s.TxPackets += qs.TxPackets
		s.TxBytes += c.txBytes.Load()
		s.TxDropped += c.txDropped.Load()
		s.TxInvalid += c.txInvalid.Load()
		s.IRQs += qs.IRQs
		s.Spurious += c.spurious.Load()
		s.BHRuns += qs.BHRuns
		s.InFlight += uint64(q.rx.Len())
	}
	p.histMu.Lock()
	s.HandoffCount = p.hist.Count()
	if s.HandoffCount > 0 {
		s.HandoffP50 = time.Duration(p.hist.Quantile(0.50))
		s.HandoffP99 = time.Duration(p.hist.Quantile(0.99))
	}
	p.histMu.Unlock()
	return s
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
	q := ""
	if len(s.Queues) > 1 {
		for i, qs := range s.Queues {
			q += fmt.Sprintf(" q%d(cpu %d): rx %d tx %d irqs %d", i, qs.CPU, qs.RxPackets, qs.TxPackets, qs.IRQs)
		}
	}
	return fmt.Sprintf("rx %d (%d B) processed %d drops:%s tx %d (%d B) tx_dropped %d tx_invalid %d irqs %d bh_runs %d panics %d hw: rx_packets %d tx_packets %d rx_missed %d rx_no_buffer %d%s",
		s.RxPackets, s.RxBytes, s.Processed, d, s.TxPackets, s.TxBytes, s.TxDropped, s.TxInvalid, s.IRQs, s.BHRuns, s.Panics,
		s.HW.RxPackets, s.HW.TxPackets, s.HW.RxMissed, s.HW.RxNoBuffer, q)
}
