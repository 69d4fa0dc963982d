package bench

import (
	"bytes"
	"fmt"
)

// writeTail tabulates, for the boots whose runs counted them (the RT RESULT
// line's late and p999), the wake-ups at least half a period late. In a
// quiet boot the kernel's best configuration misses the 1 ms deadline about
// as often as the guest with nothing running: those few misses are the
// host's, and a ratio of them cannot tell two drivers apart. Wake-ups half a
// period late are tens to hundreds per run and move with what runs on the
// task's CPU.
func writeTail(b *bytes.Buffer, kinds, labels []string, rates []float64, groups map[rtKey][]*RTResult) {
	has := func(rs []*RTResult) bool {
		for _, r := range rs {
			if _, ok := r.Fields["late"]; ok && r.Err == "" {
				return true
			}
		}
		return false
	}
	found := false
	for _, rs := range groups {
		if has(rs) {
			found = true
			break
		}
	}
	if !found {
		return
	}
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	w("## Below a miss: wake-ups at least half a period late\n\n")
	w("The same runs as the tables above, where they counted it: **late** is the number of the task's wake-ups at least " +
		"500 µs (half its period) after their release, per run; p99.9 is of the wake-up latency. Ratios as above: of " +
		"medians, and per repetition against the kernel's run or the idle floor of the same repetition.\n\n")
	w("| boot | row | traffic | late | × kernel | × kernel, per rep | idle floor (late) | × idle | p99.9 (ms) |\n")
	w("|---|---|---|---|---|---|---|---|---|\n")
	ratio := func(a, d stats) string {
		if a.n == 0 || d.n == 0 || d.med == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", a.med/d.med)
	}
	rows := append([]string{"idle"}, labels...)
	for _, kind := range kinds {
		idleRuns := groups[rtKey{kind, "idle", -1}]
		idle := fieldStats(idleRuns, "late")
		for _, l := range rows {
			for _, rate := range rates {
				key := rtKey{kind, l, rate}
				if l == "idle" {
					if rate != rates[0] {
						continue
					}
					key.rate = -1
				}
				rs := groups[key]
				if !has(rs) {
					continue
				}
				kernRuns := groups[rtKey{kind, "kernel", rate}]
				late := fieldStats(rs, "late")
				kern := fieldStats(kernRuns, "late")
				traffic := rateName(rate)
				if l == "idle" {
					traffic, kern, kernRuns = "none", stats{}, nil
				}
				w("| %s | %s | %s | %s | %s | %s | %s | %s | %.2f |\n", kind, l, traffic, late, ratio(late, kern),
					perRepRatioOf(rs, kernRuns, "late"), idle, ratio(late, idle), fieldStats(rs, "p999").med/1e6)
			}
		}
	}
	w("\n")
}

// fieldStats is the median and range of a field over the runs that
// finished and recorded it.
func fieldStats(rs []*RTResult, f string) stats {
	var xs []float64
	for _, r := range rs {
		if v, ok := r.Fields[f]; ok && r.Err == "" && r.Fields["jobs"] > 0 {
			xs = append(xs, v)
		}
	}
	return statsOf(xs)
}
