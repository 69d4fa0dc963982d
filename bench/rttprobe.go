package bench

import (
	"slices"
	"time"
)

// Round trips during a real-time run (LabOptions.RTRTT). The run's traffic
// is counted, not reflected, so the flood's link only sends; the probe sends
// one reflect frame at a time on a twin of it and reads the reflections, so
// a frame's latency through the target is measured under the run's load.
// A deadline bottom half that found work polls again only in its next
// period, with the interrupt masked: a frame may wait up to a period, which
// this shows beside the FIFO classes and the kernel.

const (
	rttEvery   = 5 * time.Millisecond   // one probe per 5 ms: 0.25% of 20 kpps
	rttTimeout = 200 * time.Millisecond // a reflection later than this is lost
	// rttTag marks probe sequence numbers apart from RoundTrips' and
	// Throughput's (bits 62 and 63).
	rttTag = uint64(3) << 62
)

// rttResult is what a probe saw; durations in ns.
type rttResult struct {
	n, lost  int
	p50, p99 float64
}

// store adds the probe's fields to a run's fields.
func (r rttResult) store(f map[string]float64) {
	f["rtt_n"], f["rtt_lost"], f["rtt_p50"], f["rtt_p99"] = float64(r.n), float64(r.lost), r.p50, r.p99
}

// twin is a link to the same peer and NIC with buffers of its own, for a
// second goroutine.
func (l *Link) twin() *Link {
	t := NewLink(l.Peer, l.MAC[:])
	t.Flows, t.ToNIC = l.Flows, l.ToNIC
	return t
}

// probeRTT sends a reflect frame every rttEvery until stop is closed and
// times each reflection; one not back within rttTimeout counts as lost.
func probeRTT(l *Link, stop <-chan struct{}) rttResult {
	var samples []float64
	lost := 0
	for seq := uint64(0); ; seq++ {
		select {
		case <-stop:
			return summarizeRTT(samples, lost)
		case <-time.After(rttEvery):
		}
		want := seq | rttTag
		t0 := time.Now()
		if l.send(OpReflect, want) != nil {
			lost++
			continue
		}
		for {
			op, got, _, err := l.recv(t0.Add(rttTimeout))
			if err != nil {
				lost++
				break
			}
			if op == OpReflect && got == want {
				samples = append(samples, float64(time.Since(t0)))
				break
			}
		}
	}
}

func summarizeRTT(samples []float64, lost int) rttResult {
	r := rttResult{n: len(samples), lost: lost}
	if len(samples) == 0 {
		return r
	}
	slices.Sort(samples)
	r.p50 = samples[len(samples)/2]
	r.p99 = samples[min(len(samples)-1, len(samples)*99/100)]
	return r
}
