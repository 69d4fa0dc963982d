package bench

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// The headline of RESULTS.md: the project's targets, each a ratio of figures
// measured in this boot (uiodrv against the kernel's own driver for the same
// NIC model, or one uiodrv mode against another), as the median over the
// repetitions with its spread.

// spread is a ratio: med is the ratio of the medians; lo and hi bound it
// over the repetitions (the lowest numerator over the highest denominator,
// and the other way round).
type spread struct {
	med, lo, hi float64
	ok          bool
}

func ratioOf(u, k *TargetResult, f func(Rep) float64) spread {
	if u == nil || k == nil {
		return spread{}
	}
	um, km := u.Median(f), k.Median(f)
	ulo, uhi := u.Spread(f)
	klo, khi := k.Spread(f)
	if um == 0 || km == 0 || klo == 0 || khi == 0 {
		return spread{}
	}
	return spread{med: um / km, lo: ulo / khi, hi: uhi / klo, ok: true}
}

func (s spread) String() string {
	if !s.ok {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx (%.2f–%.2f)", s.med, s.lo, s.hi)
}

// atLeast and atMost mark s against a target (on the median).
func (s spread) atLeast(x float64) string { return s.String() + markOK(s.ok, s.med >= x) }
func (s spread) atMost(x float64) string  { return s.String() + markOK(s.ok, s.med <= x) }

func markOK(measured, ok bool) string {
	if !measured {
		return ""
	}
	return mark(ok)
}

// guestKV reads a field of the target's BENCH DONE line.
func guestKV(t *TargetResult, k string) (float64, bool) {
	if t == nil {
		return 0, false
	}
	v, ok := ParseKV(t.Guest)[k]
	return v, ok
}

// bestInterrupt is the interrupt mode with the highest median reflect
// throughput against the kernel.
func (r *Report) bestInterrupt(model string) (string, *TargetResult) {
	k := r.target(model, "kernel")
	best, bt := "", (*TargetResult)(nil)
	for _, m := range interruptModes {
		u := r.target(model, m)
		if u == nil || u.Tput == 0 || k == nil {
			continue
		}
		if bt == nil || u.Tput > bt.Tput {
			best, bt = m, u
		}
	}
	return best, bt
}

// The headline targets, in the order the table lists them.
const (
	tgtBusyTput   = 4.5
	tgtBusyP99    = 0.25
	tgtIntTput    = 3.5
	tgtIntP99     = 0.7
	tgtAdaptTput  = 0.9
	tgtAdaptCPU   = 0.3
	tgtTrapsFrame = 0.2
)

func (r *Report) writeSummary(b *bytes.Buffer) {
	if r.Lab == nil || len(r.Lab.Targets) == 0 {
		return
	}
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	models := r.models()
	w("## Headline: the targets, measured in this boot\n\n")
	w("Each cell is the median over %d repetitions, then in brackets the lowest and highest the repetitions allow "+
		"(for a ratio: the lowest numerator over the highest denominator, and the other way round). \"kernel\" is the "+
		"guest kernel's own driver for the same NIC model, in the same boot, served by the same host code. ✔ met, ✘ missed "+
		"(judged on the median).\n\n", max(r.LabOpts.Reps, 1))
	t := &Table{Header: append([]string{"measure", "target"}, models...)}
	row := func(measure, target string, cell func(model string) string) {
		cells := []any{measure, target}
		for _, m := range models {
			cells = append(cells, cell(m))
		}
		t.AddRow(cells...)
	}
	bp := func(m string) *TargetResult { return r.target(m, "busypoll") }
	k := func(m string) *TargetResult { return r.target(m, "kernel") }
	ad := func(m string) *TargetResult { return r.target(m, "adaptive") }
	row(fmt.Sprintf("busy-poll reflect throughput (%d in flight) vs kernel", r.LabOpts.Window), fmt.Sprintf("≥ %.1fx", tgtBusyTput),
		func(m string) string { return ratioOf(bp(m), k(m), repTput).atLeast(tgtBusyTput) })
	row("busy-poll round-trip p99 vs kernel", fmt.Sprintf("≤ %.2fx", tgtBusyP99),
		func(m string) string { return ratioOf(bp(m), k(m), repP99).atMost(tgtBusyP99) })
	row("best interrupt mode, reflect throughput vs kernel", fmt.Sprintf("≥ %.1fx", tgtIntTput), func(m string) string {
		name, u := r.bestInterrupt(m)
		if u == nil {
			return "n/a"
		}
		return name + ": " + ratioOf(u, k(m), repTput).atLeast(tgtIntTput)
	})
	row("the same mode, round-trip p99 vs kernel", fmt.Sprintf("≤ %.1fx", tgtIntP99), func(m string) string {
		name, u := r.bestInterrupt(m)
		if u == nil {
			return "n/a"
		}
		return name + ": " + ratioOf(u, k(m), repP99).atMost(tgtIntP99)
	})
	row("adaptive reflect throughput vs busy poll", fmt.Sprintf("≥ %.1fx", tgtAdaptTput),
		func(m string) string { return notRun(ad(m), ratioOf(ad(m), bp(m), repTput).atLeast(tgtAdaptTput)) })
	row(fmt.Sprintf("adaptive guest CPU at %g frames/s vs busy poll", r.LabOpts.CPULight), fmt.Sprintf("≤ %.1fx", tgtAdaptCPU),
		func(m string) string { return notRun(ad(m), ratioOf(ad(m), bp(m), repCPULight).atMost(tgtAdaptCPU)) })
	row(fmt.Sprintf("adaptive guest CPU at %g frames/s vs busy poll", r.LabOpts.CPURate), fmt.Sprintf("≤ %.1fx", tgtAdaptCPU),
		func(m string) string { return notRun(ad(m), ratioOf(ad(m), bp(m), repCPUMod).atMost(tgtAdaptCPU)) })
	row(fmt.Sprintf("register accesses (traps) per reflected frame, busy poll, %d in flight", r.LabOpts.Window),
		fmt.Sprintf("≤ %.1f", tgtTrapsFrame), func(m string) string {
			v, ok := guestKV(bp(m), "tput_regs_pf")
			if !ok {
				return "not counted"
			}
			lo, _ := guestKV(bp(m), "tput_regs_pf_min")
			hi, _ := guestKV(bp(m), "tput_regs_pf_max")
			return fmt.Sprintf("%.3f (%.3f–%.3f)", v, lo, hi) + mark(v <= tgtTrapsFrame)
		})
	row("heap allocations per reflected frame (guest process), the highest of any uiodrv mode", "0", func(m string) string {
		worst, wm, seen := 0.0, "", false
		var wt *TargetResult
		for _, tg := range r.Lab.Targets {
			if tg.Mode == "kernel" || !inGroup(tg, m) {
				continue
			}
			if v, ok := guestKV(tg, "tput_allocs_pf_max"); ok && (!seen || v > worst) {
				worst, wm, seen, wt = v, tg.Mode, true, tg
			}
		}
		if !seen {
			return "not measured"
		}
		what := ""
		if worst > 0 && len(wt.AllocSites) > 0 {
			var sum []string
			for _, st := range wt.AllocSites {
				sum = append(sum, siteSummary(st))
			}
			what = "; recorded: " + strings.Join(sum, ", ")
		}
		return fmt.Sprintf("%.5f (%s%s)", worst, wm, what) + mark(worst == 0)
	})
	t.Notes = []string{fmt.Sprintf("Traps and allocations are counted in the guest between the host's marks around each "+
		"throughput repetition (bench/marks.go): register accesses through the driver's counting wrapper (mmio.Counting, "+
		"OpenOptions.CountRegs) and the process's heap objects (runtime.MemStats.Mallocs, every goroutine of the guest "+
		"process). No marked repetition runs the CPU profiler, which allocates as it writes: the modes profiled (%v) are "+
		"profiled in one more throughput repetition of their own, between profile marks, after the marked ones. The "+
		"query replies that carry the guest's /proc/stat ticks parse them without allocating. The allocations cell names "+
		"what the guest recorded with its stack in that mode's repetitions (the allocating function, and the first "+
		"frame outside the Go runtime when it is not the caller); the full stacks, and the mark handling's own "+
		"allocations among them, are under \"Where the guest allocated\". Per mode below.", modeNames(r.LabOpts.Profile))}
	_ = t.WriteMarkdown(b)
	r.writeModes(b)
}

func notRun(t *TargetResult, s string) string {
	if t == nil {
		return "not run"
	}
	return s
}

// writeModes is every mode against the kernel and busy poll.
func (r *Report) writeModes(b *bytes.Buffer) {
	o := r.LabOpts
	t := &Table{Title: "Every mode, same boot",
		Header: []string{"NIC", "mode", "reflect tput vs kernel", "RTT p99 vs kernel", "RTT p50 vs kernel", "lossless RX rate vs kernel",
			fmt.Sprintf("guest CPU at %g/s vs busy poll", o.CPURate), fmt.Sprintf("at %g/s vs busy poll", o.CPULight),
			"traps / reflected frame", "allocs / reflected frame"}}
	for _, model := range r.models() {
		k := r.target(model, "kernel")
		bp := r.target(model, "busypoll")
		for _, mode := range append(slices.Clone(interruptModes), "busypoll", "adaptive") {
			u := r.target(model, mode)
			if u == nil || k == nil {
				continue
			}
			if u.Tput == 0 {
				t.AddRow(model, mode, "failed: "+u.Err)
				continue
			}
			cpu, light := "(itself)", "(itself)"
			if mode != "busypoll" {
				cpu, light = ratioOf(u, bp, repCPUMod).String(), ratioOf(u, bp, repCPULight).String()
			}
			traps, allocs := "", ""
			if v, ok := guestKV(u, "tput_regs_pf"); ok {
				traps = fmt.Sprintf("%.3f", v)
			}
			if v, ok := guestKV(u, "tput_allocs_pf"); ok {
				allocs = fmt.Sprintf("%.5f", v)
			}
			t.AddRow(model, mode, ratioOf(u, k, repTput), ratioOf(u, k, repP99), ratioOf(u, k, repP50),
				Ratio(u.MaxRate, k.MaxRate), cpu, light, traps, allocs)
		}
	}
	t.Notes = []string{"Ratios of figures measured in this run (median, and the spread over the repetitions); the absolute values are in the tables below."}
	_ = t.WriteMarkdown(b)
	r.writeAllocSites(b)
}

// siteSummary shortens a site ("n=<objects> site=<frames>") to
// "n× <first frame>", with " in <frame>" the first frame outside the Go
// runtime when the first is the runtime's.
func siteSummary(s string) string {
	n, frames, ok := strings.Cut(strings.TrimPrefix(s, "n="), " site=")
	if !ok {
		return s
	}
	name := func(f string) string {
		if i := strings.LastIndexByte(f, ':'); i > 0 {
			return f[:i]
		}
		return f
	}
	fs := strings.Split(frames, "<")
	out := n + "× " + name(fs[0])
	if strings.HasPrefix(fs[0], "runtime.") || strings.HasPrefix(fs[0], "internal/") {
		for _, f := range fs[1:] {
			if f != "…" && !strings.HasPrefix(f, "runtime.") && !strings.HasPrefix(f, "internal/") {
				out += " in " + name(f)
				break
			}
		}
	}
	return out
}

// writeAllocSites names, for every uiodrv target that allocated in its
// throughput phase, the stacks of every object the guest allocated inside
// the marked repetitions (BENCH ALLOCS; PhaseSites, bench/phasesites.go).
func (r *Report) writeAllocSites(b *bytes.Buffer) {
	var lines []string
	for _, tg := range r.Lab.Targets {
		v, ok := guestKV(tg, "tput_allocs_pf")
		if !ok || v == 0 || len(tg.AllocSites) == 0 {
			continue
		}
		counted := ""
		if a, ok := guestKV(tg, "tput_allocs"); ok {
			counted = fmt.Sprintf(", %.0f objects counted by Mallocs", a)
		}
		if o, ok := guestKV(tg, "tput_site_objs"); ok {
			counted += fmt.Sprintf(", %.0f recorded with their stacks", o)
		}
		lines = append(lines, fmt.Sprintf("- %s %s (%.5f per reflected frame in the throughput phase%s): %s",
			tg.NIC.Name(), tg.Mode, v, counted, strings.Join(tg.AllocSites, "; ")))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "### Where the guest allocated\n\nEvery object the guest process allocated inside the marked throughput "+
		"repetitions, by stack, summed over them, for each run that allocated there (bench/phasesites.go: "+
		"runtime.MemProfileRate = 1 from two GCs just before each start mark is answered to each end mark's count, then a "+
		"GC, 0 elsewhere; what the mark handling allocates in those two windows, e.g. the end GC's first allocation on a P "+
		"after the rate change, is recorded too, which is why the recorded objects can exceed Mallocs' count). n is objects; then the "+
		"frames past the runtime's allocation entry points, innermost first, and after \"…\" the innermost frame outside the "+
		"runtime when the stack goes on:\n\n%s\n\n", strings.Join(lines, "\n"))
}
