package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// RTBoot is one boot's real-time stage, as saved next to RESULTS.md (rt.json)
// so that several boots (a default one, a threadirqs one, repetitions split
// to keep each boot short) can be tabulated together by WriteRTResults.
type RTBoot struct {
	Command  string
	Started  time.Time
	Cmdline  string // the guest kernel's extra command line ("" default boot)
	Kernel   string
	QEMU     string
	Duration time.Duration // per run
	// KernelBest: the kernel's row ran in its best real-time configuration
	// (LabOptions.RTKernelBest).
	KernelBest bool `json:",omitempty"`
	Load       []string
	RT         []*RTResult
}

// rtBoot extracts the real-time stage of a report; nil when it has none.
func (r *Report) rtBoot() *RTBoot {
	if r.Lab == nil || len(r.Lab.RT) == 0 || r.LabOpts == nil {
		return nil
	}
	return &RTBoot{Command: r.Command, Started: r.Started, Cmdline: r.LabOpts.Cmdline, Kernel: r.Lab.Kernel,
		QEMU: r.Lab.QEMU, Duration: r.LabOpts.RTTime, KernelBest: r.LabOpts.RTKernelBest, Load: r.Load, RT: r.Lab.RT}
}

// ReadRTBoots reads rt.json files written by Report.Write.
func ReadRTBoots(paths []string) ([]*RTBoot, error) {
	var bs []*RTBoot
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var rb RTBoot
		if err := json.Unmarshal(b, &rb); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		bs = append(bs, &rb)
	}
	return bs, nil
}

func bootKind(cmdline string) string {
	if strings.TrimSpace(cmdline) == "" {
		return "default"
	}
	return cmdline
}

func rateName(r float64) string {
	if r == noTraffic {
		return "no traffic"
	}
	if r == 0 {
		return "unpaced flood"
	}
	return fmt.Sprintf("%.0f kpps", r/1000)
}

// stats is the median and range of a sample.
type stats struct {
	n             int
	med, min, max float64
}

func statsOf(xs []float64) stats {
	if len(xs) == 0 {
		return stats{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{n: len(s), med: m, min: s[0], max: s[len(s)-1]}
}

func (s stats) String() string {
	if s.n == 0 {
		return "–"
	}
	if s.n == 1 {
		return fmt.Sprintf("%.0f", s.med)
	}
	return fmt.Sprintf("%.0f (%.0f–%.0f)", s.med, s.min, s.max)
}

// rtKey groups runs: boot kind, row label (mode, class, top half), rate.
type rtKey struct {
	boot, label string
	rate        float64
}

func rowLabel(r *RTResult) string {
	l := r.Mode
	if base, _, ok := strings.Cut(l, "+"); ok && r.Sched != "" {
		l = base + "+" + r.Sched // the reservation's parameters: boots may differ
	}
	if r.TopHalf != "" && r.TopHalf != "default" && r.Mode != "idle" && r.Mode != "kernel" && r.Mode != "busypoll" {
		l += " (" + r.TopHalf + " top half)"
	}
	return l
}

// WriteRTResults writes the real-time tables of boots into dir/RESULTS.md:
// one table per mode, a row per boot kind and rate with the misses (median
// and range over the repetitions), the idle floor and the kernel's own
// driver measured in the same boots, and the ratios the real-time targets are
// stated in.
func WriteRTResults(dir string, boots []*RTBoot) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var checks []*RTBoot
	var measured []*RTBoot
	for _, b := range boots {
		if b.Duration < HangCheckMax {
			checks = append(checks, b)
		} else {
			measured = append(measured, b)
		}
	}
	boots = measured
	// Rows are per boot: the targets compare with the idle floor and the
	// kernel of the same boot, and boots differ (the shared host).
	names := make([]string, len(boots))
	nth := map[string]int{}
	for i, b := range boots {
		k := bootName(b)
		nth[k]++
		names[i] = fmt.Sprintf("%s #%d", k, nth[k])
	}
	groups := map[rtKey][]*RTResult{}
	var labels, kinds []string
	seen, kseen := map[string]bool{}, map[string]bool{}
	for i, b := range boots {
		for _, r := range b.RT {
			// A host placement (LabOptions.RTHost) is a boot of its own in
			// the tables: its runs compare with its own idle and kernel runs.
			kind := names[i] + hostTag(r.Host)
			if !kseen[kind] {
				kseen[kind] = true
				kinds = append(kinds, kind)
			}
			k := rtKey{kind, rowLabel(r), r.Rate}
			if r.Mode == "idle" {
				k.rate = -1
			}
			groups[k] = append(groups[k], r)
			if l := rowLabel(r); !seen[l] && r.Mode != "idle" {
				seen[l] = true
				labels = append(labels, l)
			}
		}
	}
	var rates []float64
	rseen := map[float64]bool{}
	for k := range groups {
		if (k.rate >= 0 || k.label != "idle") && !rseen[k.rate] {
			rseen[k.rate] = true
			rates = append(rates, k.rate)
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(rates)))
	sort.SliceStable(labels, func(i, j int) bool { return labels[i] == "kernel" && labels[j] != "kernel" })

	field := func(rs []*RTResult, f string) stats {
		var xs []float64
		for _, r := range rs {
			if r.Err == "" && r.Fields["jobs"] > 0 {
				xs = append(xs, r.Fields[f])
			}
		}
		return statsOf(xs)
	}
	perSec := func(rs []*RTResult, f string) stats {
		var xs []float64
		for _, r := range rs {
			if r.Err == "" && r.Fields["secs"] > 0 {
				xs = append(xs, r.Fields[f]/r.Fields["secs"])
			}
		}
		return statsOf(xs)
	}
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Real-time scenario: uiodrv's bottom halves beside a periodic task, and the kernel's own driver\n\n")
	w("Generated by `go run ./bench/cmd/uiodrv-rtreport` from the `rt.json` of these bench boots (each a `uiodrv-bench` run):\n\n")
	for i, bt := range boots {
		w("- **%s**: %s, %v per run, guest kernel %s, %s: `%s`; load %s\n", names[i], bt.Started.UTC().Format("2006-01-02 15:04 UTC"),
			bt.Duration, bt.Kernel, bt.QEMU, bt.Command, strings.Join(bt.Load, "; "))
	}
	w("\nThe probe is cyclictest (Debian's rt-tests) at SCHED_FIFO 80, 1 ms interval, pinned to guest vCPU 0, where the " +
		"NIC's interrupts (the e1000's INTx; an e1000e's MSI-X vectors; steered there and noted per run from 2026-12-01 on), " +
		"uiodrv's top half (SCHED_FIFO 90; with the \"none\" top half, a thread of the bottom half's own " +
		"class: FIFO 50 threaded and napi (napi's poll runs on it, as under threadirqs), nice -20 workqueue, the same deadline reservation with +deadline; with the \"thread\" top half " +
		"(threaded and workqueue) no top-half thread at all: the IRQ thread, or the workqueue's single worker, waits on the interrupt itself) and every pinned bottom " +
		"half run too; a deadline thread may run on both vCPUs (the kernel refuses to pin one). The handler only counts frames. **Misses** are wake-ups at least 1 ms late (cyclictest's latency " +
		">= 1000 µs) per run; cyclictest skips the releases a late wake-up overran, so one 50 ms stall is one miss. Cells: the " +
		"median over the repetitions of a boot, (min–max) when there are several; ratios are of medians, and \"per rep\" " +
		"ratios pair each run with the idle floor or kernel run of the same repetition (median and range of those ratios). Each row is one boot: " +
		"its idle floor and kernel row come from that boot. Frames/s: what the count handler (or the kernel's AF_PACKET reader) " +
		"counted per second of the run; carried: that as a share of the offered rate (median, ≥ the lowest run); the kernel row shows what this lab loses before any driver (QEMU's socket buffer). NIC missed: the e1000's missed-packet count (MPC, no free descriptor) as the driver's " +
		"statistics report it over the run; it grew monotonically across the runs of a boot, so it looks cumulative since the boot " +
		"(the register is read-to-clear and the driver's baseline is not): an upper bound on a run's loss, not a per-run count.\n\n")
	if kernelBestOrIdle(boots) {
		w("**Kernel best, no traffic** (bench -rt-kernel-best, -rt-uidle): in a \"kernel best\" boot the kernel's row is its best real-time " +
			"configuration: threaded NAPI on, the NIC's IRQ threads at SCHED_FIFO 50 and its NAPI thread at 49, below the task, all on vCPU 0 with " +
			"the interrupt, as uiodrv's threads are (the run's notes give each thread's pid, class and CPUs as read back). \"No traffic\" rows: " +
			"the uiodrv command itself idle on the NIC (\"uiodrv idle NAME\", its flags in the boot's command; \"-before\": the binary built " +
			"before the idle top half parked in the poller) beside the kernel's row with no traffic.\n\n")
	}
	if hostPlaced(boots) {
		w("**Host placement** (bench -rt-host; every run once per placement, in the same boot, tabulated as boots of their own): "+
			"\"shared\" leaves QEMU's threads and the host peer to the host scheduler on the 2 host cores; \"pinned\" pins vCPU 0's "+
			"QEMU thread (QMP query-cpus-fast) alone to host CPU 0 and every other QEMU thread (vCPU 1, the main loop, RCU, workers) "+
			"and the bench process (the host peer) to host CPU 1; \"fifo\" is pinned with vCPU 0's thread at host SCHED_FIFO %d; "+
			"\"timer\" pins vCPU 0's thread and QEMU's main loop (it fires the guest's APIC timer, a QEMU_CLOCK_VIRTUAL timer, "+
			"and delivers the frames) to host CPU 0 and the rest to host CPU 1; \"timer-nice\" is timer with vCPU 0's thread at host "+
			"nice %d (it preempts the main loop's frame delivery when it wakes, yet cannot starve it); \"timer-quiet\" is "+
			"timer-nice with the host peer at nice %d (a flood then takes the CPU vCPU 1 leaves, not half its core); "+
			"\"timer-iso\" is timer on an isolated host core: for the run every other host thread that can move (every process's, "+
			"the kernel's unbound ones), the host's device interrupts and its unbound workqueues leave host CPU 0, as an RT-VM host's "+
			"isolcpus and irqaffinity would keep them off it; "+
			"\"timer-fifo\" is timer with vCPU 0 at host "+
			"SCHED_FIFO %d and the main loop one above; \"rt\" pins nothing and gives those two threads the same priorities.\n\n",
			HostFIFOPrio, HostNice, HostPeerNice, HostFIFOPrio)
	}
	for _, l := range labels {
		w("## %s\n\n", l)
		w("| boot | traffic | misses | idle floor | × idle | × idle, per rep | kernel (cyclictest) | × kernel | × kernel, per rep | wake-up p99 (ms) | max (ms) | frames/s | carried | NIC missed (≤) | runs (failed/hung) |\n")
		w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, kind := range kinds {
			idle := field(groups[rtKey{kind, "idle", -1}], "misses")
			for _, rate := range rates {
				rs := groups[rtKey{kind, l, rate}]
				if len(rs) == 0 {
					continue
				}
				m := field(rs, "misses")
				kern := field(groups[rtKey{kind, "kernel", rate}], "misses")
				ratio := func(a, d stats) string {
					if a.n == 0 || d.n == 0 || d.med == 0 {
						return "–"
					}
					return fmt.Sprintf("%.2f", a.med/d.med)
				}
				failed, hung := 0, 0
				for _, r := range rs {
					if r.Hung {
						hung++
					} else if r.Err != "" {
						failed++
					}
				}
				p99, mx := field(rs, "p99"), field(rs, "max")
				fps := perSec(rs, "processed")
				idleRuns, kernRuns := groups[rtKey{kind, "idle", -1}], groups[rtKey{kind, "kernel", rate}]
				w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.1f | %s | %s | %s | %d (%d/%d) |\n", kind, rateName(rate), m, idle,
					ratio(m, idle), perRepRatio(rs, idleRuns), kern, ratio(m, kern), perRepRatio(rs, kernRuns), p99.med/1e6, mx.med/1e6,
					fps, carried(fps, rate), field(rs, "hwmissed"), len(rs), failed, hung)
			}
		}
		w("\n")
	}
	writeTail(&b, kinds, labels, rates, groups)
	writeRTT(&b, kinds, labels, rates, groups)
	writeHangChecks(&b, checks)
	return os.WriteFile(filepath.Join(dir, "RESULTS.md"), b.Bytes(), 0o644)
}

// hostPlaced reports whether any run had a host placement.
func hostPlaced(boots []*RTBoot) bool {
	for _, b := range boots {
		for _, r := range b.RT {
			if r.Host != "" {
				return true
			}
		}
	}
	return false
}

// hostTag names a run's host placement in the boot column ("" for none).
func hostTag(host string) string {
	if host == "" {
		return ""
	}
	return " (host " + host + ")"
}

// perRepRatio pairs each run with the reference run (idle floor, kernel) of
// the same repetition and gives the median ratio of their misses, and its
// range: the shared host's load drifts between repetitions more than
// between the runs of one.
func perRepRatio(rs, ref []*RTResult) string { return perRepRatioOf(rs, ref, "misses") }

// perRepRatioOf is perRepRatio of the field f.
func perRepRatioOf(rs, ref []*RTResult, f string) string {
	refOf := map[int]float64{}
	for _, r := range ref {
		if r.Err == "" && r.Fields["jobs"] > 0 && r.Fields[f] > 0 {
			refOf[r.Rep] = r.Fields[f]
		}
	}
	var xs []float64
	for _, r := range rs {
		if d, ok := refOf[r.Rep]; ok && r.Err == "" && r.Fields["jobs"] > 0 {
			xs = append(xs, r.Fields[f]/d)
		}
	}
	st := statsOf(xs)
	switch st.n {
	case 0:
		return "–"
	case 1:
		return fmt.Sprintf("%.2f", st.med)
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", st.med, st.min, st.max)
}

// carried is the share of the offered rate that was counted (median, and
// the lowest run): "–" for the unpaced flood, whose offered rate is unknown.
func carried(fps stats, rate float64) string {
	if rate <= 0 || fps.n == 0 {
		return "–"
	}
	if fps.n == 1 {
		return fmt.Sprintf("%.0f%%", 100*fps.med/rate)
	}
	return fmt.Sprintf("%.0f%% (≥%.0f%%)", 100*fps.med/rate, 100*fps.min/rate)
}

// HangCheckMax: boots whose runs are shorter are hang checks (many short
// consecutive runs), counted, not tabulated with the measurements.
const HangCheckMax = 5 * time.Second

// writeHangChecks counts, per mode, the consecutive runs of the hang-check
// boots and how many failed or hung (a hang is a failure, never "no result").
func writeHangChecks(b *bytes.Buffer, checks []*RTBoot) {
	if len(checks) == 0 {
		return
	}
	fmt.Fprintf(b, "## Consecutive runs (hang check)\n\nShort runs, one guest process each, modes interleaved; a run counts as "+
		"complete when its task reported (cyclictest's jobs > 0).\n\n")
	for _, bt := range checks {
		fmt.Fprintf(b, "- %s, boot `%s`, %v per run: `%s`; load %s\n", bt.Started.UTC().Format("2006-01-02 15:04 UTC"),
			bootKind(bt.Cmdline), bt.Duration, bt.Command, strings.Join(bt.Load, "; "))
	}
	fmt.Fprintf(b, "\n| mode | runs | complete | failed | hung |\n|---|---|---|---|---|\n")
	type count struct{ runs, ok, failed, hung int }
	counts := map[string]*count{}
	var order []string
	for _, bt := range checks {
		for _, r := range bt.RT {
			l := rowLabel(r)
			if counts[l] == nil {
				counts[l] = &count{}
				order = append(order, l)
			}
			c := counts[l]
			c.runs++
			switch {
			case r.Hung:
				c.hung++
			case r.Err != "" || r.Fields["jobs"] == 0:
				c.failed++
			default:
				c.ok++
			}
		}
	}
	for _, l := range order {
		c := counts[l]
		fmt.Fprintf(b, "| %s | %d | %d | %d | %d |\n", l, c.runs, c.ok, c.failed, c.hung)
	}
	b.WriteString("\n")
}
