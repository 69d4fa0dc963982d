package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/handler"
)

// meter turns successive snapshots into per-second rates.
type meter struct {
	prev driver.Stats
	at   time.Time
}

func newMeter(s driver.Stats) *meter { return &meter{prev: s, at: time.Now()} }

// line is one live statistics line: rates since the previous line, drops
// by reason, and the handoff latency so far.
func (m *meter) line(s *driver.Stats, now time.Time) string {
	dt := now.Sub(m.at).Seconds()
	if dt <= 0 {
		dt = 1
	}
	rate := func(cur, prev uint64) float64 { return float64(cur-prev) / dt }
	var b strings.Builder
	fmt.Fprintf(&b, "rx %7.0f pps  tx %7.0f pps  irq/s %6.0f  bh/s %6.0f  drops %s  handoff p50 %v p99 %v  link %s",
		rate(s.RxPackets, m.prev.RxPackets), rate(s.TxPackets, m.prev.TxPackets),
		rate(s.IRQs, m.prev.IRQs), rate(s.BHRuns, m.prev.BHRuns),
		drops(s), roundDur(s.HandoffP50), roundDur(s.HandoffP99), link(s))
	if len(s.Queues) > 1 && len(m.prev.Queues) == len(s.Queues) {
		for i, q := range s.Queues {
			fmt.Fprintf(&b, "  q%d %.0f pps", i, rate(q.RxPackets, m.prev.Queues[i].RxPackets))
		}
	}
	m.prev, m.at = *s, now
	return b.String()
}

// drops lists the non-zero drop counters by reason, "0" when there are none.
func drops(s *driver.Stats) string {
	var parts []string
	for _, r := range driver.DropReasons() {
		if n := s.Drops[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", r, n))
		}
	}
	if s.HW.RxMissed > 0 {
		parts = append(parts, fmt.Sprintf("nic_missed=%d", s.HW.RxMissed))
	}
	if s.TxDropped > 0 {
		parts = append(parts, fmt.Sprintf("tx_full=%d", s.TxDropped))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ",")
}

func link(s *driver.Stats) string {
	if !s.Link {
		return "down"
	}
	return fmt.Sprintf("up %d Mb/s", s.SpeedMbps)
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d > time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	}
	return d
}

// printSummary prints what a run did; it is printed at every exit.
func printSummary(w io.Writer, f *runFlags, s, fwd *driver.Stats, counts [handler.ProtoMalformed + 1]uint64,
	capture *handler.Capture, elapsed time.Duration, reason string) {
	sec := elapsed.Seconds()
	fmt.Fprintf(w, "--- uiodrv summary: %s, mode %s, handler %s, %v (stopped by %s)\n",
		f.addr, f.parsedMode, f.handler, elapsed.Round(time.Millisecond), reason)
	fmt.Fprintf(w, "rx        %d frames, %d bytes (%.0f pps avg); processed %d, in flight at close %d\n",
		s.RxPackets, s.RxBytes, float64(s.RxPackets)/sec, s.Processed, s.InFlight)
	fmt.Fprintf(w, "drops     %s\n", drops(s))
	fmt.Fprintf(w, "tx        %d frames, %d bytes; tx ring full %d; tx_invalid %d\n", s.TxPackets, s.TxBytes, s.TxDropped, s.TxInvalid)
	fmt.Fprintf(w, "irqs      %d (%d spurious); bottom-half runs %d; handler panics %d\n", s.IRQs, s.Spurious, s.BHRuns, s.Panics)
	fmt.Fprintf(w, "events    link ups %d, link downs %d; watchdog resets %d\n", s.LinkUps, s.LinkDowns, s.Resets)
	if len(s.Queues) > 1 {
		for i, q := range s.Queues {
			fmt.Fprintf(w, "queue %-3d cpu %d: rx %d frames, processed %d, dropped %d, tx %d; irqs %d; bottom-half runs %d\n",
				i, q.CPU, q.RxPackets, q.Processed, q.Dropped, q.TxPackets, q.IRQs, q.BHRuns)
		}
	}
	fmt.Fprintf(w, "handoff   p50 %v p99 %v over %d runs\n", roundDur(s.HandoffP50), roundDur(s.HandoffP99), s.HandoffCount)
	fmt.Fprintf(w, "nic       rx_good %d tx_good %d missed %d no_buf %d crc_err %d\n",
		s.HW.RxPackets, s.HW.TxPackets, s.HW.RxMissed, s.HW.RxNoBuffer, s.HW.RxCRCErrors)
	var protos []string
	for _, p := range handler.Protos() {
		if counts[p] > 0 {
			protos = append(protos, fmt.Sprintf("%s=%d", p, counts[p]))
		}
	}
	if len(protos) > 0 {
		fmt.Fprintf(w, "protocols %s\n", strings.Join(protos, " "))
	}
	if capture != nil {
		fmt.Fprintf(w, "pcap      %d frames written to %s; %d not written (write error)\n", capture.Frames(), f.pcap, capture.Lost())
	}
	if fwd != nil {
		fmt.Fprintf(w, "fwd-dev   %s: tx %d frames, tx ring full %d; rx %d\n", f.fwdAdr, fwd.TxPackets, fwd.TxDropped, fwd.RxPackets)
	}
	acc := "every frame accounted for"
	if !s.Accounted() {
		acc = "ACCOUNTING MISMATCH: frames lost between counters"
	}
	fmt.Fprintf(w, "%s\n", acc)
}
