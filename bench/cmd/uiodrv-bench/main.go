// Command uiodrv-bench runs uiodrv's benchmarks and writes bench/RESULTS.md
// and the plots beside it (make bench):
//
//  1. the ring and executor benchmarks of ring/ and deferral/ (go test -bench),
//  2. the real-time scenario on the host, with synthetic eventfd interrupts,
//  3. one lab boot: per NIC model and mode, uiodrv against the guest kernel's
//     own driver (AF_PACKET) in the same boot, and the real-time scenario on
//     the emulated NIC.
//
// Every stage can be skipped; RESULTS.md is rewritten after each one, so an
// interrupted run leaves what it measured.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uiodrv/uiodrv/bench"
	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/rt"
)

func main() {
	var (
		out           = flag.String("out", "bench", "folder for RESULTS.md, plots and profiles (relative to the module root)")
		goBench       = flag.Bool("gobench", true, "run the ring and deferral benchmarks")
		count         = flag.Int("count", 5, "go test -count for the ring and deferral benchmarks")
		hostRT        = flag.Bool("hostrt", true, "run the host real-time scenario (synthetic interrupts)")
		lab           = flag.Bool("lab", true, "run the lab benchmarks")
		modesF        = flag.String("modes", "", "comma-separated modes (default: all)")
		rtTime        = flag.Duration("rt-time", 5*time.Second, "periodic task run per mode")
		quick         = flag.Bool("quick", false, "fewer frames per measurement (smoke run)")
		verbose       = flag.Bool("v", false, "stream the guest's output")
		backendF      = flag.String("backend", "vfio", "vfio or uio")
		nicsF         = flag.String("nics", "", "lab NICs to use, comma-separated: e1000, e1000e, igb (uiodrv with 1 and 2 queues beside the kernel's igb; not in the default set), virtio-net-pci (uiodrv beside the kernel's virtio_net; not in the default set) (default: e1000 and e1000e)")
		mitig         = flag.Bool("mitigation", true, "QEMU's e1000 interrupt mitigation property (off: an experiment)")
		rtReps        = flag.Int("rt-reps", 1, "lab real-time scenario: runs of the idle floor and of every mode and rate (one guest process each)")
		rtOnly        = flag.Bool("rt-only", false, "lab: run the real-time scenario alone (no per-target measurements)")
		rtRates       = flag.String("rt-rates", "", "lab real-time scenario: comma-separated flood rates in frames/s, 0 = unpaced (default: 8000)")
		topHalf       = flag.String("top-half", "", "lab real-time scenario: the port's top half, copy or light, or both comma-separated (each mode runs with each; default: per mode); none adds threaded and workqueue runs whose light top half runs at the bottom half's class")
		rtWork        = flag.Duration("rt-work", 150*time.Microsecond, "lab real-time scenario: handler CPU per counted frame (0: the count handler alone)")
		rtKernel      = flag.Bool("rt-kernel", false, "lab real-time scenario: also run it beside the guest kernel's own driver (needs a kernel NIC)")
		rtProbe       = flag.String("rt-probe", bench.ProbeCyclictest, "lab real-time scenario: the periodic task, cyclictest (Debian's rt-tests, staged into the guest) or go (uiodrv rt's probe, with a 100 µs job)")
		rtSched       = flag.String("rt-bh-sched", "", "lab real-time scenario: also run threaded and workqueue with this bottom-half class, e.g. deadline:200us/1ms (rows threaded+deadline, workqueue+deadline)")
		rtWarmup      = flag.Bool("rt-warmup", false, "lab real-time scenario: one idle run first, logged and dropped (the first run after a boot tends to miss the most); kept, as a failed run, if it fails or hangs")
		rtNoIdle      = flag.Bool("rt-no-idle", false, "lab real-time scenario: no idle-floor runs (hang checks)")
		rtRows        = flag.String("rt-rows", "", "lab real-time scenario: keep only these uiodrv runs, comma-separated mode[+class]/top, e.g. threaded/none,threaded+deadline/thread (idle and kernel are kept)")
		rtSchedOnly   = flag.Bool("rt-bh-sched-only", false, "lab real-time scenario: with -rt-bh-sched, skip the threaded and workqueue runs of the default class")
		kernelF       = flag.String("kernel", "6.1", "lab guest kernel, downloaded on first use: "+strings.Join(qemu.KernelNames(), ", "))
		kernelModes   = flag.String("kernel-modes", "", "lab: also run the kernel's UDP responders on every kernel NIC, comma-separated: "+strings.Join(bench.KernelUDPModes, ", ")+" (udp-suspend needs 6.13 or later, udp-threaded-busypoll 6.19: -kernel 7.x)")
		cmdline       = flag.String("cmdline", "", "appended to the guest kernel command line, e.g. threadirqs")
		rtHost        = flag.String("rt-host", "", "lab real-time scenario: run every run once per host placement, comma-separated: shared, pinned (vCPU 0's QEMU thread alone on host CPU 0, all else on 1), fifo (pinned, vCPU 0 at host SCHED_FIFO 10), timer (vCPU 0 and QEMU's main loop, which fires the guest's timers, on host CPU 0, all else on 1), timer-nice (timer, vCPU 0 at host nice -20), timer-quiet (timer-nice, the host peer at nice 19), timer-iso (timer, and every other host thread that can move, the host's interrupts and unbound workqueues off host CPU 0 for the run), timer-fifo (timer, vCPU 0 at FIFO 10, the main loop at 11), rt (nothing pinned, vCPU 0 at FIFO 10, the main loop at 11)")
		rtIRQOff      = flag.Bool("rt-irq-off", false, "lab real-time scenario (experiment): the NIC's interrupt and the guest process on vCPU 1, off the task's vCPU 0, so that what the task misses beyond idle is the host's share")
		rtITR         = flag.Duration("rt-itr", 0, "lab real-time scenario: the uiodrv NIC's minimum interval between interrupts (ITR/EITR, 256 ns units, up to 16.7 ms); 0: no throttle")
		rtProcOff     = flag.Bool("rt-proc-off", false, "lab real-time scenario (experiment): the guest process's unpinned threads (Go runtime, bench) on vCPU 1; the interrupt and the pinned halves stay")
		rtPartition   = flag.Bool("rt-partition", false, "lab real-time scenario: uiodrv's rows (and -rt-uidle commands) run in a cgroup v2 cpuset partition of vCPU 1, a root domain of its own, so that a deadline bottom half cannot run on the task's vCPU 0")
		rtBestNAPIOff = flag.Bool("rt-kernel-napi-off", false, "lab real-time scenario, with -rt-kernel-best: the kernel's NAPI threads on vCPU 1, off the task's CPU (where uiodrv's deadline bottom half is placed); its IRQ threads stay with the interrupt on vCPU 0")
		rtBest        = flag.Bool("rt-kernel-best", false, "lab real-time scenario: the kernel's row in its best real-time configuration: threaded NAPI, the NIC's IRQ threads at SCHED_FIFO 50 and NAPI threads at 49 on the task's vCPU 0, read back and noted (needs PREEMPT_RT, -kernel 7.x-rt or 6.12-rt, or -cmdline threadirqs)")
		rtUIdle       = flag.String("rt-uidle", "", "lab real-time scenario: per repetition, idle uiodrv commands beside the task and the kernel's row with no traffic, ';'-separated NAME[@before]=[ENV=V ...] ARGS (uiodrv run --dev NIC --handler count ARGS), e.g. 'rt=--mode threaded --top-half thread --bh-sched deadline:200us/1ms@1 --housekeeping-cpus 1 --rt-lock'")
		uiodrvPrev    = flag.String("uiodrv-before", "", "lab: a static uiodrv binary for -rt-uidle's NAME@before variants (a build from before a change, for a before/after in one boot)")
		rtRTT         = flag.Bool("rt-rtt", false, "lab real-time scenario: while each run's traffic flows, measure round trips through the target (one reflect frame every 5 ms; fields rtt_p50, rtt_p99, rtt_n, rtt_lost)")
		rtQSP         = flag.Bool("rt-qsp", false, "lab real-time scenario: profile QEMU's locks (HMP sync-profile) during every run; the profile goes into rt.json")
	)
	flag.Parse()
	if k, err := qemu.KernelByName(*kernelF); err != nil {
		fmt.Fprintln(os.Stderr, "uiodrv-bench: -kernel:", err)
		os.Exit(2)
	} else {
		labKernel = k.Series
	}
	for _, m := range strings.Split(*kernelModes, ",") {
		if m == "" {
			continue
		}
		if !slices.Contains(bench.KernelUDPModes, m) {
			fmt.Fprintf(os.Stderr, "uiodrv-bench: -kernel-modes: %q: want %s\n", m, strings.Join(bench.KernelUDPModes, ", "))
			os.Exit(2)
		}
		labKernelModes = append(labKernelModes, m)
	}
	var ths []driver.TopHalf
	topNone := false
	for _, f := range strings.Split(*topHalf, ",") {
		if f == "none" { // threaded and workqueue only: bench.LabOptions.RTTopNone
			topNone = true
			continue
		}
		th, err := driver.ParseTopHalf(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "uiodrv-bench: -top-half:", err)
			os.Exit(2)
		}
		ths = append(ths, th)
	}
	if *rtProbe != bench.ProbeCyclictest && *rtProbe != bench.ProbeGo {
		fmt.Fprintf(os.Stderr, "uiodrv-bench: -rt-probe %q: want %s or %s\n", *rtProbe, bench.ProbeCyclictest, bench.ProbeGo)
		os.Exit(2)
	}
	if *rtITR < 0 || *rtITR > 0xFFFF*256*time.Nanosecond {
		fmt.Fprintln(os.Stderr, "uiodrv-bench: -rt-itr", *rtITR, "not in 0-16.7ms (the ITR register's 16 bits of 256 ns)")
		os.Exit(2)
	}
	hosts, err := bench.ParseHostPlacements(*rtHost)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uiodrv-bench: -rt-host:", err)
		os.Exit(2)
	}
	var bhs rt.Sched
	if *rtSched != "" {
		var err error
		if bhs, err = rt.ParseSched(*rtSched); err != nil {
			fmt.Fprintln(os.Stderr, "uiodrv-bench: -rt-bh-sched:", err)
			os.Exit(2)
		}
	}
	uidle, err := bench.ParseUIdle(*rtUIdle)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uiodrv-bench: -rt-uidle:", err)
		os.Exit(2)
	}
	for _, v := range uidle {
		if v.Before && *uiodrvPrev == "" {
			fmt.Fprintf(os.Stderr, "uiodrv-bench: -rt-uidle: %s@before needs -uiodrv-before PATH\n", v.Name)
			os.Exit(2)
		}
	}
	if *rtBestNAPIOff && !*rtBest {
		fmt.Fprintln(os.Stderr, "uiodrv-bench: -rt-kernel-napi-off places the threads of -rt-kernel-best: add -rt-kernel-best")
		os.Exit(2)
	}
	if *uiodrvPrev != "" {
		if _, err := os.Stat(*uiodrvPrev); err != nil {
			fmt.Fprintln(os.Stderr, "uiodrv-bench: -uiodrv-before:", err)
			os.Exit(2)
		}
	}
	labRT = func(o *bench.LabOptions) {
		o.RTKernelBest, o.RTKernelNAPIOff, o.RTUIdle, o.UiodrvBefore = *rtBest, *rtBestNAPIOff, uidle, *uiodrvPrev
		o.RTPartition = *rtPartition
		o.RTProbe, o.RTBHSched, o.RTSchedOnly, o.RTTopNone, o.RTNoIdle = *rtProbe, bhs, *rtSchedOnly, topNone, *rtNoIdle
		o.RTWarmup = *rtWarmup
		o.RTHost, o.RTQSP, o.RTIRQOff, o.RTRTT = hosts, *rtQSP, *rtIRQOff, *rtRTT
		o.RTITR, o.RTProcOff = uint32(*rtITR/(256*time.Nanosecond)), *rtProcOff
		if *rtRows != "" {
			o.RTRows = strings.Split(*rtRows, ",")
		}
		if *rtProbe == bench.ProbeCyclictest {
			o.RTTaskWork = 0
		}
		o.RTReps, o.RTOnly, o.RTTopHalves, o.RTWork, o.RTKernel, o.Cmdline = *rtReps, *rtOnly, ths, *rtWork, *rtKernel, *cmdline
	}
	if *rtRates != "" {
		var rates []float64
		for _, f := range strings.Split(*rtRates, ",") {
			r, err := strconv.ParseFloat(f, 64)
			if err != nil || r < 0 {
				fmt.Fprintf(os.Stderr, "uiodrv-bench: -rt-rates: %q is not a rate in frames/s\n", f)
				os.Exit(2)
			}
			rates = append(rates, r)
		}
		prev := labRT
		labRT = func(o *bench.LabOptions) { prev(o); o.RTRates = rates }
	}
	nics := bench.DefaultNICs
	if *nicsF != "" {
		nics = nil
		for _, f := range strings.Split(*nicsF, ",") {
			if f != string(qemu.E1000) && f != string(qemu.E1000E) && f != string(qemu.IGB) && f != string(qemu.VirtioNet) {
				fmt.Fprintf(os.Stderr, "uiodrv-bench: -nics: %q is not a lab NIC: want e1000, e1000e, igb or virtio-net-pci\n", f)
				os.Exit(2)
			}
		}
		tapErr := qemu.CheckTapPeer()
		for _, n := range slices.Concat(bench.DefaultNICs, bench.IGBNICs, bench.VirtioNICs) {
			if !strings.Contains(","+*nicsF+",", ","+string(n.Model)+",") {
				continue
			}
			if n.Netdev > 1 && tapErr != nil {
				fmt.Fprintf(os.Stderr, "uiodrv-bench: leaving out %s at %s: %v\n", n.Name(), n.Addr, tapErr)
				continue
			}
			nics = append(nics, n)
		}
	}
	if !*mitig {
		// Only QEMU's e1000 has the property; its e1000e emulates ITR itself.
		var ns []bench.LabNIC
		for _, n := range nics {
			if n.Model == qemu.E1000 {
				n.Mitigation = mitig
			}
			ns = append(ns, n)
		}
		nics = ns
	}
	if err := run(*out, *goBench, *count, *hostRT, *lab, *modesF, *rtTime, *quick, *verbose, *backendF, nics); err != nil {
		fmt.Fprintln(os.Stderr, "uiodrv-bench:", err)
		os.Exit(1)
	}
}

func run(out string, goBench bool, count int, hostRT, lab bool, modesF string, rtTime time.Duration, quick, verbose bool, backendF string, nics []bench.LabNIC) error {
	root, err := qemu.ModuleRoot()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	modes := deferral.Modes()
	if modesF != "" {
		modes = nil
		for _, s := range strings.Split(modesF, ",") {
			m, err := deferral.ParseMode(s)
			if err != nil {
				return err
			}
			modes = append(modes, m)
		}
	}
	backend, err := driver.ParseBackend(backendF)
	if err != nil {
		return err
	}
	rep := &bench.Report{Started: time.Now(), Machine: bench.DescribeMachine(), Command: strings.TrimSpace("go -C bench run ./cmd/uiodrv-bench " + strings.Join(os.Args[1:], " "))}
	save := func() error {
		rep.Finished = time.Now()
		return rep.Write(out)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

	if goBench {
		rep.NoteLoad("gobench start")
		logf("== ring and deferral benchmarks (go test -count %d)", count)
		args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", fmt.Sprint(count), "./ring/", "./deferral/"}
		cmd := exec.Command("go", args...)
		var buf bytes.Buffer
		cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
		cmd.Stderr = os.Stderr
		runErr := cmd.Run()
		rep.GoBenchCmd = "go " + strings.Join(args, " ")
		rep.NoteLoad("gobench end")
		rep.GoBenchRaw = buf.String()
		var perr error
		if rep.GoBench, perr = bench.ParseGoBench(&buf); perr != nil {
			logf("parse: %v", perr)
		}
		if runErr != nil {
			rep.GoBenchErr = runErr.Error()
		}
		if err := save(); err != nil {
			return err
		}
	}
	if hostRT {
		logf("== real-time scenario on the host (synthetic eventfd interrupts)")
		rep.NoteLoad("host RT start")
		o := bench.HostRTOptions(rtTime)
		rep.HostRTOpts = &o
		for _, m := range append([]*deferral.Mode{nil}, ptrs(modes)...) {
			r, err := bench.RunSynth(o, m)
			if err != nil {
				return fmt.Errorf("host rt: %w", err)
			}
			logf("rt host %s: %d/%d missed, wake p99 %v max %v, processed %d of %d", r.Mode, r.Task.Misses, r.Task.Jobs,
				time.Duration(r.Task.Wakeup.Quantile(0.99)), time.Duration(r.Task.Wakeup.Max()), r.Processed, r.Offered)
			rep.HostRT = append(rep.HostRT, r)
		}
		rep.NoteLoad("host RT end")
		if err := save(); err != nil {
			return err
		}
	}
	if lab {
		logf("== lab (one boot: uiodrv and the kernel driver side by side)")
		if err := qemu.EnsureQEMU(); err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "uiodrv-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		bin := filepath.Join(tmp, "bench.test")
		if err := qemu.BuildTest("./bench", bin); err != nil {
			return fmt.Errorf("build the guest binary: %w", err)
		}
		o := bench.DefaultLabOptions(modes, backend, quick)
		o.TestBinary = bin
		o.NICs = nics
		o.RTTime = rtTime
		labRT(&o)
		if len(o.RTUIdle) > 0 {
			o.UiodrvBinary = filepath.Join(tmp, "uiodrv")
			if err := qemu.BuildStatic("./cmd/uiodrv", o.UiodrvBinary); err != nil {
				return fmt.Errorf("build the uiodrv command for the guest: %w", err)
			}
		}
		o.Kernel, o.KernelModes = labKernel, labKernelModes
		if verbose {
			o.Log = os.Stderr
		} else {
			o.Log = progressOnly{os.Stderr}
		}
		rep.LabOpts = &o
		ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
		defer cancel()
		rep.NoteLoad("lab start")
		res, err := bench.RunLab(ctx, o)
		rep.NoteLoad("lab end")
		rep.Lab = res
		if err != nil {
			rep.LabErr = err.Error()
			logf("lab: %v", err)
		}
		if err := save(); err != nil {
			return err
		}
		if err != nil {
			return err
		}
	}
	logf("wrote %s", filepath.Join(out, "RESULTS.md"))
	return nil
}

// labKernel and labKernelModes are -kernel's and -kernel-modes' choices.
var (
	labKernel      qemu.KernelSeries
	labKernelModes []string
)

// labRT applies the real-time scenario's flags to the lab options.
var labRT = func(*bench.LabOptions) {}

func ptrs(ms []deferral.Mode) []*deferral.Mode {
	p := make([]*deferral.Mode, len(ms))
	for i := range ms {
		p[i] = &ms[i]
	}
	return p
}

// progressOnly passes the host's own "bench:" lines and guest failures.
type progressOnly struct{ w io.Writer }

func (p progressOnly) Write(b []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if strings.HasPrefix(l, "bench:") || strings.Contains(l, "--- FAIL") || strings.Contains(l, "panic") ||
			strings.Contains(l, "_test.go:") {
			io.WriteString(p.w, l)
		}
	}
	return len(b), nil
}
