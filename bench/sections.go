package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// interruptModes are the modes that sleep until an interrupt.
var interruptModes = []string{"tasklet", "softirq", "workqueue", "threaded", "napi"}

// models are the row groups of the lab tables: NIC names (LabNIC.Name),
// the kernel's NIC of a model belonging to every group of that model.
func (r *Report) models() []string {
	var ms []string
	if r.Lab == nil {
		return nil
	}
	for _, t := range r.Lab.Targets {
		if !slices.Contains(ms, t.NIC.Name()) {
			ms = append(ms, t.NIC.Name())
		}
	}
	return ms
}

// inGroup reports whether t's rows belong to the group name: its own, or,
// for the kernel's driver, any group of its model ("igb 2q" compares with
// the kernel's igb as "igb" does).
func inGroup(t *TargetResult, name string) bool {
	return t.NIC.Name() == name || t.NIC.Kernel && strings.HasPrefix(name, string(t.NIC.Model)+" ")
}

// fileName is a group name fit for a file name.
func fileName(name string) string { return strings.ReplaceAll(name, " ", "-") }

func (r *Report) target(model, mode string) *TargetResult {
	if r.Lab == nil {
		return nil
	}
	for _, t := range r.Lab.Targets {
		if inGroup(t, model) && t.Mode == mode {
			return t
		}
	}
	return nil
}

func mark(ok bool) string {
	if ok {
		return " ✔"
	}
	return " ✘"
}

func (r *Report) writeLab(b *bytes.Buffer, dir string) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if r.LabErr != "" {
		w("**The lab run failed:** `%s` (what was measured before is below).\n\n", r.LabErr)
	}
	if r.Lab == nil {
		return
	}
	o := r.LabOpts
	w("## End to end in the lab (%s)\n\n", r.Machine)
	e1000s := slices.ContainsFunc(o.NICs, func(n LabNIC) bool { return n.Flows == 0 })
	if e1000s {
		w("One boot, four NICs: uiodrv drives 03.0 (e1000) and 05.0 (e1000e) through %v, one mode after the other "+
			"(IRQCPU 0, BHCPU 1, adaptive's thread on CPU 0 with the top half; the e1000 interrupts through INTx, which vfio-pci needs unmasked by an ioctl after each "+
			"interrupt, the e1000e through MSI-X, as the guest kernel's e1000e does); the guest kernel's own e1000/e1000e drivers drive 04.0 and 06.0, served by an AF_PACKET "+
			"program in the same guest binary (recvmmsg/sendmmsg, batches of %d, bench/afpacket_linux.go). The host peer "+
			"is the same code for both (bench/hostlab.go) through QEMU's `-netdev dgram` sockets; frames are UDP/IPv4 test frames "+
			"(internal/testframe's headers, bench/proto.go) of %d bytes (64 on the wire with the FCS; queries %d), sent to a MAC "+
			"no NIC owns to targets that all run promiscuous, so that the guest kernel drops them before its IPv4 stack "+
			"(bench/README.md, \"Frames\").\n\n", o.Backend, PeerBatch, ReflectLen, QueryLen)
	}
	if slices.ContainsFunc(o.NICs, func(n LabNIC) bool { return n.Flows > 0 }) {
		w("igb (QEMU's 82576, `-device igb`), one boot: uiodrv drives 07.0 with 1 queue (IRQCPU 0, BHCPU 1) and 09.0 with 2 "+
			"(queue q's top and bottom half on CPU q, RSS over both: group \"igb 2q\"); the guest kernel's igb drives 0b.0 "+
			"with the queues it picks itself (`queues` in its counters), served by the AF_PACKET program (recvmmsg/sendmmsg, "+
			"bench/afpacket_linux.go) bound to IPv4. uiodrv runs one mode after the other, through %v. The host peer is the "+
			"same code for every target (bench/hostlab.go) through QEMU's `-netdev dgram` sockets. Every igb "+
			"frame is the same UDP/IPv4 protocol frame as the e1000s' (%d bytes, bench/proto.go) over %d flows (distinct "+
			"source address and port) in turn, so that RSS has flows to spread; `q0_rx`/`q1_rx` are the per-queue "+
			"counters of the 2-queue port.\n\n", o.Backend, ReflectLen, BenchFlows)
	}
	reps := max(o.Reps, 1)
	w("Each target is measured %d times over (round trips, then throughput; then the CPU loads, each in turn); the tables "+
		"give the median and, in brackets, the lowest and highest repetition.\n\n", reps)
	w("- **reflect**: %d frames reflected with %d in flight (after a 500-frame warm-up), per repetition; frames/s of echoes received.\n", o.TputFrames, o.Window)
	w("- **RTT**: %d one-at-a-time reflections per repetition (%d per target), host send to host receive; p50 and p99 per "+
		"repetition, the maximum and the plots over all of them.\n", o.RTT, o.RTT*reps)
	w("- **lossless RX**: count-only frames paced at each rate of %v frames/s for %v per rung; the highest rung at which "+
		"the guest counted every frame (a lossy rung is retried once). Once per target.\n", o.Rates, o.RateStep)
	w("- **CPU**: the guest's busy time from /proc/stat (all CPUs, in vCPUs) while %g frames/s arrive for %v, at %g frames/s, "+
		"per repetition, and with no traffic (once).\n", o.CPURate, o.CPUTime, o.CPULight)
	w("- **traps, allocs / frame**: register accesses and heap allocations per reflected frame in the guest, counted " +
		"between the host's marks around each throughput repetition (bench/marks.go).\n\n")
	for _, model := range r.models() {
		t := &Table{Title: model, Header: []string{"driver / mode", "reflect (frames/s)", "RTT p50", "RTT p99", "RTT max",
			"lossless RX (frames/s)", "first lossy rung", fmt.Sprintf("guest CPU at %g/s", o.CPURate), fmt.Sprintf("at %g/s", o.CPULight), "idle", "guest counters"}}
		for _, tg := range r.Lab.Targets {
			if !inGroup(tg, model) {
				continue
			}
			name := "uiodrv " + tg.Mode
			if tg.Mode == "kernel" {
				name = "kernel driver (AF_PACKET)"
			} else if tg.NIC.Kernel {
				name = "kernel driver, " + tg.Mode + " socket" // KernelUDPModes
			}
			if tg.Tput == 0 {
				t.AddRow(name, "failed: "+tg.Err)
				continue
			}
			if tg.Err != "" {
				t.Notes = append(t.Notes, fmt.Sprintf("%s: %s.", name, tg.Err))
			}
			lossy := "none"
			for _, s := range tg.Ladder {
				if !s.Lossless() {
					lossy = fmt.Sprintf("%.0f/s: %d of %d lost (sent at %.0f/s)", s.Rate, s.Sent-s.Counted, s.Sent, s.Achieved)
				}
			}
			t.AddRow(name, medSpread(tg, repTput, "%.0f"), medMicros(tg, repP50), medMicros(tg, repP99),
				Micros(tg.RTT.Max()), fmt.Sprintf("%.0f", tg.MaxRate), lossy, medSpread(tg, repCPUMod, "%.2f"),
				medSpread(tg, repCPULight, "%.2f"), fmt.Sprintf("%.2f", tg.CPUIdle), guestSummary(tg.Guest))
		}
		_ = t.WriteMarkdown(b)
		if err := plotRTT(filepath.Join(dir, "plots", "rtt-"+fileName(model)+".png"), model, r.Lab.Targets); err == nil {
			w("![round-trip CDF, %s](plots/rtt-%s.png)\n\n", model, fileName(model))
		} else {
			w("(plot failed: %v)\n\n", err)
		}
	}
}

// medSpread is the median of f over the target's repetitions with the
// lowest and highest in brackets.
func medSpread(t *TargetResult, f func(Rep) float64, format string) string {
	lo, hi := t.Spread(f)
	return fmt.Sprintf(format+" ("+format+"–"+format+")", t.Median(f), lo, hi)
}

func medMicros(t *TargetResult, f func(Rep) float64) string {
	lo, hi := t.Spread(f)
	return fmt.Sprintf("%s (%s–%s)", Micros(int64(t.Median(f))), Micros(int64(lo)), Micros(int64(hi)))
}

// guestSummary keeps the interesting counters of a guest BENCH DONE line.
func guestSummary(line string) string {
	kv := ParseKV(line)
	var parts []string
	for _, k := range []string{"queues", "irqs", "bhruns", "dropped", "hwmissed", "hwnobuf", "handoff_p50", "handoff_p99", "regs_per_frame", "tput_regs_pf", "tput_allocs_pf",
		"q0_rx", "q0_tx", "q0_irqs", "q1_rx", "q1_tx", "q1_irqs"} {
		if v, ok := kv[k]; ok {
			switch {
			case strings.HasPrefix(k, "handoff"):
				parts = append(parts, k+" "+Micros(int64(v)))
			case k == "regs_per_frame":
				parts = append(parts, fmt.Sprintf("regs/rx frame (run) %.3f", v))
			case k == "tput_regs_pf":
				parts = append(parts, fmt.Sprintf("regs/frame (throughput) %.3f", v))
			case k == "tput_allocs_pf":
				parts = append(parts, fmt.Sprintf("allocs/frame (throughput) %.5f", v))
			default:
				parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
			}
		}
	}
	return strings.Join(parts, ", ")
}

func (r *Report) writeRT(b *bytes.Buffer, dir string) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if len(r.HostRT) == 0 && (r.Lab == nil || len(r.Lab.RT) == 0) {
		return
	}
	w("## The real-time scenario\n\n")
	w("Per-mode tables over several boots (default and `threadirqs`), with cyclictest as the probe and the kernel's own " +
		"e1000 as a row: [rt/RESULTS.md](rt/RESULTS.md) (`go run ./bench/cmd/uiodrv-rtreport`). ")
	if r.LabOpts != nil && (r.LabOpts.RTProbe == "" || r.LabOpts.RTProbe == ProbeCyclictest) {
		w("In this run's lab table the task is cyclictest (no job; a miss is a wake-up at least 1 ms late); the " +
			"description below is the Go probe's.")
	}
	w("\n\n")
	w("A periodic task (SCHED_FIFO %d, period 1 ms, a 100 µs job, absolute releases with clock_nanosleep) shares one core "+
		"with the packet path: the top half at SCHED_FIFO %d (a hard IRQ preempts everything), the bottom half wherever its "+
		"mode puts it on that same core (tasklet, softirq and NAPI in the top half's softirq context or ksoftirqd; the "+
		"threaded IRQ at SCHED_FIFO 50; the workqueue worker at nice -20; the busy poller at SCHED_OTHER), with a CPU-heavy "+
		"handler under more load than the core can carry. A job misses when it finishes after the next release. "+
		"The kernel's design predicts that softirq/tasklet (and NAPI) work, run at the interrupt's priority, starves the "+
		"task, while threaded IRQs below it and workqueues do not. The process sizes GOMAXPROCS to cores + the threads it "+
		"locked (rt.SizeGOMAXPROCS) so that a woken real-time thread finds a free Go P (deferral's doc: otherwise the Go scheduler, not the kernel, "+
		"decides who runs).\n\n", RTTaskPrio, RTIRQPrio)
	if len(r.HostRT) > 0 {
		o := r.HostRTOpts
		t := &Table{Title: "Host, synthetic interrupts (eventfd)", Header: []string{"mode", "missed / jobs", "wake-up p50", "p99", "max",
			"packets processed", "offered", "dropped (backlog full)", "interrupts"}}
		t.Notes = []string{fmt.Sprintf("The interrupts are synthetic: a thread on core %d writes an eventfd %d times a second; each "+
			"brings one packet costing %v of CPU in the bottom half (%.1f cores offered), on core %d with the task. "+
			"Measured on %s.", o.GenCPU, o.IRQRate, o.PacketWork, float64(o.IRQRate)*o.PacketWork.Seconds(), o.CPU, r.Machine)}
		for _, s := range r.HostRT {
			h := &s.Task.Wakeup
			t.AddRow(s.Mode, fmt.Sprintf("%d / %d", s.Task.Misses, s.Task.Jobs), Micros(h.Quantile(0.5)), Micros(h.Quantile(0.99)),
				Micros(h.Max()), s.Processed, s.Offered, s.Dropped, s.IRQs)
		}
		_ = t.WriteMarkdown(b)
		var series []pctSeries
		for _, s := range r.HostRT {
			h := &s.Task.Wakeup
			series = append(series, pctSeries{s.Mode, []float64{float64(h.Quantile(0.5)), float64(h.Quantile(0.9)),
				float64(h.Quantile(0.99)), float64(h.Quantile(0.999)), float64(h.Max())}})
		}
		if err := plotPercentiles(filepath.Join(dir, "plots", "rt-host.png"), "periodic task wake-up latency, host (synthetic IRQs)",
			[]string{"p50", "p90", "p99", "p99.9", "max"}, series); err == nil {
			w("![wake-up latency, host](plots/rt-host.png)\n\n")
		}
	}
	if r.Lab != nil && len(r.Lab.RT) > 0 {
		o := r.LabOpts
		t := &Table{Title: "Lab, the emulated e1000's interrupts (03.0, uiodrv)", Header: []string{"mode", "missed / jobs", "wake-up p50", "p99", "max",
			"frames processed", "frames flooded", "interrupts", "dropped"}}
		t.Notes = []string{fmt.Sprintf("The host floods count frames at %.0f/s; the handler spends %v per frame (%.1f vCPUs "+
			"offered) on guest core 0, with the top half (SCHED_FIFO %d) and the task; %v per mode. Under TCG the "+
			"guest's idle floor is itself noisy (FACTS.md): compare the rows, not with other runs.",
			o.RTRate, o.RTWork, o.RTRate*o.RTWork.Seconds(), o.RTIRQPrio, o.RTTime)}
		var series []pctSeries
		for _, s := range r.Lab.RT {
			f := s.Fields
			if s.Err != "" && f["jobs"] == 0 {
				t.AddRow(s.Mode, "no result: "+s.Err)
				continue
			}
			t.AddRow(s.Mode, fmt.Sprintf("%.0f / %.0f", f["misses"], f["jobs"]), Micros(int64(f["p50"])), Micros(int64(f["p99"])),
				Micros(int64(f["max"])), fmt.Sprintf("%.0f", f["processed"]), s.Flooded, fmt.Sprintf("%.0f", f["irqs"]), fmt.Sprintf("%.0f", f["dropped"]))
			series = append(series, pctSeries{s.Mode, []float64{f["p50"], f["p99"], f["max"]}})
		}
		_ = t.WriteMarkdown(b)
		if err := plotPercentiles(filepath.Join(dir, "plots", "rt-lab.png"), "periodic task wake-up latency, lab (e1000 IRQs)",
			[]string{"p50", "p99", "max"}, series); err == nil {
			w("![wake-up latency, lab](plots/rt-lab.png)\n\n")
		}
	}
}

func (r *Report) writeGoBench(b *bytes.Buffer) {
	if len(r.GoBench) == 0 && r.GoBenchErr == "" {
		return
	}
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	w("## Rings and executors\n\n`%s`, parsed: the median of the runs (min–max in brackets for ns/op). "+
		"The `x-vs-chan`/`x-chan` columns are each benchmark's own ratio against a Go channel measured in the same run "+
		"(see ring/ and deferral/ for what they measure). Machine: %s.\n\n", r.GoBenchCmd, r.Machine)
	if r.GoBenchErr != "" {
		w("**go test failed:** `%s`\n\n", r.GoBenchErr)
	}
	pkgs := []string{}
	for _, g := range r.GoBench {
		if !slices.Contains(pkgs, g.Pkg) {
			pkgs = append(pkgs, g.Pkg)
		}
	}
	for _, pkg := range pkgs {
		var units []string
		for _, g := range r.GoBench {
			if g.Pkg != pkg {
				continue
			}
			for _, u := range g.Units {
				if !slices.Contains(units, u) {
					units = append(units, u)
				}
			}
		}
		t := &Table{Title: pkg, Header: append([]string{"benchmark", "runs"}, units...)}
		for _, g := range r.GoBench {
			if g.Pkg != pkg {
				continue
			}
			row := []any{g.Name, len(g.Runs)}
			for _, u := range units {
				v, ok := g.Median(u)
				switch {
				case !ok:
					row = append(row, "")
				case u == "ns/op":
					lo, hi := g.Spread(u)
					row = append(row, fmt.Sprintf("%s (%s–%s)", num(v), num(lo), num(hi)))
				default:
					row = append(row, num(v))
				}
			}
			t.AddRow(row...)
		}
		_ = t.WriteMarkdown(b)
	}
}

func num(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e12:
		return fmt.Sprintf("%d", int64(v))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func (r *Report) writeProfiles(b *bytes.Buffer, dir string) {
	if r.Lab == nil {
		return
	}
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	w("## What bounds the lab: profiles\n\n")
	w("Host threads of QEMU during each reflect-throughput measurement (cores used, from /proc/<pid>/task/*/stat; "+
		"the machine has %d). QEMU names its threads only with `-name debug-threads=on`, which the lab does not "+
		"pass: the main loop (the I/O thread that moves frames between the UDP socket and the NIC model, TID = PID) "+
		"is marked, the others are the two TCG vCPU threads and helpers.\n\n", numCPU())
	t := &Table{Header: []string{"NIC", "driver / mode", "reflect (frames/s)", "QEMU threads (cores)"}}
	for _, tg := range r.Lab.Targets {
		var parts []string
		total := 0.0
		for _, th := range tg.QEMU {
			total += th.Cores
			if len(parts) < 5 {
				name := th.Comm
				if th.Main {
					name = "main loop (I/O)"
				}
				parts = append(parts, fmt.Sprintf("%s %.2f", name, th.Cores))
			}
		}
		t.AddRow(tg.NIC.Name(), tg.Mode, fmt.Sprintf("%.0f", tg.Tput), fmt.Sprintf("total %.2f: %s", total, strings.Join(parts, ", ")))
	}
	_ = t.WriteMarkdown(b)
	for _, tg := range r.Lab.Targets {
		if len(tg.Profile) == 0 {
			continue
		}
		name := fmt.Sprintf("guest-%s-%s.pprof", fileName(tg.NIC.Name()), tg.Mode)
		path := filepath.Join(dir, "profiles", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			continue
		}
		if err := os.WriteFile(path, tg.Profile, 0o644); err != nil {
			continue
		}
		w("### Guest CPU profile: uiodrv %s on %s (`profiles/%s`, one throughput repetition of its own, unmarked: bench/marks.go)\n\n```\n%s```\n\n", tg.Mode, tg.NIC.Model, name, pprofTop(path, 18))
	}
}
