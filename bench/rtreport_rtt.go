package bench

import (
	"bytes"
	"fmt"
)

// writeRTT tabulates, for the boots that measured them (-rt-rtt), the round
// trips of probe frames sent through the target while each run's traffic
// flowed: what a frame's latency pays for the bottom half's class.
func writeRTT(b *bytes.Buffer, kinds, labels []string, rates []float64, groups map[rtKey][]*RTResult) {
	has := func(rs []*RTResult) bool {
		for _, r := range rs {
			if r.Fields["rtt_n"] > 0 && r.Err == "" {
				return true
			}
		}
		return false
	}
	found := false
	for _, rs := range groups {
		found = found || has(rs)
	}
	if !found {
		return
	}
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	w("## Round trips during the runs\n\n")
	w("The same runs, where the bench measured it (`-rt-rtt`): while a run's traffic flowed the host sent one reflect " +
		"frame every 5 ms through the target and timed its reflection (lost: not back within 200 ms). Medians over " +
		"the repetitions of each run's p50 and p99, with their range; × kernel is of the p99 medians.\n\n")
	w("| boot | row | traffic | round trips per run (lost) | p50 (ms) | p99 (ms) | p99 × kernel |\n")
	w("|---|---|---|---|---|---|---|\n")
	ms := func(s stats) string {
		if s.n == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f (%.2f–%.2f)", s.med/1e6, s.min/1e6, s.max/1e6)
	}
	for _, kind := range kinds {
		for _, l := range labels {
			for _, rate := range rates {
				rs := groups[rtKey{kind, l, rate}]
				if !has(rs) {
					continue
				}
				p99 := fieldStats(rs, "rtt_p99")
				kern := fieldStats(groups[rtKey{kind, "kernel", rate}], "rtt_p99")
				ratio := "–"
				if kern.n > 0 && kern.med > 0 {
					ratio = fmt.Sprintf("%.2f", p99.med/kern.med)
				}
				w("| %s | %s | %s | %.0f (%.0f) | %s | %s | %s |\n", kind, l, rateName(rate), fieldStats(rs, "rtt_n").med,
					fieldStats(rs, "rtt_lost").med, ms(fieldStats(rs, "rtt_p50")), ms(p99), ratio)
			}
		}
	}
	w("\n")
}
