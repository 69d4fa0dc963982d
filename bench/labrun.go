package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
)

// LabNIC is one NIC of the bench boot.
type LabNIC struct {
	Model  qemu.NICModel
	Addr   string // slot.function, e.g. "03.0"
	MAC    string
	Kernel bool // driven by the guest kernel's driver (the peer), not uiodrv
	// Mitigation sets QEMU's interrupt mitigation property; nil keeps QEMU's default (on).
	Mitigation *bool
	// Queues is how many queues uiodrv runs on an igb NIC (0 means 1; the
	// kernel's igb picks its own, one per vCPU).
	Queues int
	// Flows, when above 0, makes the host send flow frames (UDP/IPv4) over
	// this many flows, for RSS to spread (Link.Flows).
	Flows int
}

// Name labels the NIC's rows: the model, with the queue count for a
// uiodrv NIC run with more than one ("igb 2q").
func (n LabNIC) Name() string {
	if !n.Kernel && n.Queues > 1 {
		return fmt.Sprintf("%s %dq", n.Model, n.Queues)
	}
	return string(n.Model)
}

// target is the NIC's entry in the guest plan.
func (n LabNIC) target() Target {
	t := Target{BDF: n.BDF(), Kernel: n.Kernel}
	if n.Model == qemu.IGB {
		t.Model, t.Queues, t.Flows = string(n.Model), max(n.Queues, 1), n.Flows > 0
	}
	return t
}

// BDF is the NIC's guest PCI address.
func (n LabNIC) BDF() string { return "0000:00:" + n.Addr }

// Driver is the guest driver the NIC is bound to.
func (n LabNIC) Driver(b driver.Backend) string {
	if n.Kernel {
		return string(n.Model) // the kernel's e1000 or e1000e driver
	}
	return b.Driver()
}

// DefaultNICs puts uiodrv and the kernel driver side by side for each model
// in one boot.
var DefaultNICs = []LabNIC{
	{Model: qemu.E1000, Addr: "03.0", MAC: "52:54:00:12:34:56"},
	{Model: qemu.E1000, Addr: "04.0", MAC: "52:54:00:12:34:57", Kernel: true},
	{Model: qemu.E1000E, Addr: "05.0", MAC: "52:54:00:12:34:58"},
	{Model: qemu.E1000E, Addr: "06.0", MAC: "52:54:00:12:34:59", Kernel: true},
}

// BenchFlows is how many flows the host sends to an igb NIC: enough that
// RSS's redirection table puts some on every queue.
const BenchFlows = 64

// IGBNICs are igb's rows: uiodrv with 1 queue and with 2 (a NIC each),
// and the guest kernel's igb, in the same boot, all fed the same flow frames.
// They sit two slots apart: QEMU reserves each igb's 8 SR-IOV VFs (VF
// offset 0x80, stride 2) 16 slots above it, two slots' worth of functions.
var IGBNICs = []LabNIC{
	{Model: qemu.IGB, Addr: "07.0", MAC: "52:54:00:12:34:5a", Queues: 1, Flows: BenchFlows},
	{Model: qemu.IGB, Addr: "09.0", MAC: "52:54:00:12:34:5b", Queues: 2, Flows: BenchFlows},
	{Model: qemu.IGB, Addr: "0b.0", MAC: "52:54:00:12:34:5c", Kernel: true, Flows: BenchFlows},
}

// LabOptions configures one bench boot.
type LabOptions struct {
	NICs    []LabNIC
	Backend driver.Backend
	Modes   []deferral.Mode
	Profile []deferral.Mode // uiodrv modes whose guest CPU profile is collected

	RTT        int       // round trips per target
	TputFrames int       // frames reflected for throughput
	Window     int       // frames in flight for throughput
	Rates      []float64 // RX-rate ladder, frames/s
	RateStep   time.Duration
	CPURate    float64 // the "moderate" rate of the CPU measurement
	CPULight   float64 // a light rate, measured too
	CPUTime    time.Duration

	// The real-time scenario on the first uiodrv NIC (no RT run when RTTime is 0).
	RTModes    []deferral.Mode
	RTTime     time.Duration
	RTRate     float64       // flood rate, frames/s
	RTWork     time.Duration // bottom-half CPU per frame
	RTTaskWork time.Duration
	RTIRQPrio  int
	RTTaskPrio int
	// RTRates are the flood rates of the real-time scenario, frames/s (0:
	// unpaced, as fast as the host sends); empty means RTRate alone.
	RTRates []float64
	// RTReps repeats the idle floor and every mode and rate, interleaved
	// (idle, modes..., idle, modes...), each run a guest process of its own;
	// 0 means 1.
	RTReps int
	// RTOnly skips the per-target measurements: the boot runs the
	// real-time scenario alone.
	RTOnly bool
	// RTTopHalf is the top half of the real-time scenario's port.
	RTTopHalf driver.TopHalf
	// RTTopHalves, when set, runs every mode once per top half (in the same
	// boot, interleaved) instead of RTTopHalf alone.
	RTTopHalves []driver.TopHalf
	// RTKernel adds a "kernel" run per rate and repetition: the same task
	// beside the guest kernel's own driver on the first kernel NIC (its IRQ
	// on core 0, an AF_PACKET reader on core 0 counting).
	RTKernel bool
	// RTBHSched, unless zero, adds a run of the threaded and workqueue modes
	// with this bottom-half class (e.g. deadline:200us/1ms), labelled
	// "threaded+deadline", beside their default-class runs.
	RTBHSched deferral.Sched
	// RTSchedOnly drops the threaded and workqueue runs of the default
	// class when RTBHSched is set (experiments on the deadline class).
	RTSchedOnly bool
	// RTNoIdle drops the idle-floor runs (hang checks: many short runs
	// whose misses are not compared).
	RTNoIdle bool
	// RTRows, unless empty, keeps only the uiodrv runs whose key
	// (rtRun.key: "mode[+class]/top", e.g. "threaded+deadline/thread") it
	// lists; the idle floor and the kernel's row are kept (labrt.go).
	RTRows []string
	// RTTopNone adds, for threaded and workqueue (and their RTBHSched
	// runs), a run with no top half above the bottom half: the light top
	// half on a thread of the bottom half's own class (driver.Config.IRQSched;
	// GuestPlan.RTTopNone).
	RTTopNone bool
	// RTProbe is the periodic task: ProbeCyclictest (empty means it) or
	// ProbeGo.
	RTProbe string
	// Cmdline is appended to the guest kernel's command line (threadirqs).
	Cmdline string

	TestBinary string    // the guest test binary (qemu.BuildTest("./bench", ...))
	Log        io.Writer // progress; nil discards
	Timeout    time.Duration
}

// TargetResult is what the host measured on one target (NIC and mode).
type TargetResult struct {
	NIC      LabNIC
	Mode     string // a deferral mode, or "kernel"
	RTT      deferral.Histogram
	Samples  []time.Duration
	RTTLost  int
	Tput     float64
	TLost    int
	Ladder   []RateStep
	MaxRate  float64
	CPUIdle  float64 // guest cores busy with no traffic
	CPUMod   float64 // guest cores busy at CPURate
	CPULight float64 // guest cores busy at CPULight
	CPUCnt   uint64
	QEMU     []ThreadCPU // QEMU's threads during the throughput phase
	Guest    string      // the guest's BENCH DONE line
	Profile  []byte      // gzipped pprof CPU profile of the guest process
	Err      string
}

// RTResult is one mode of the lab real-time scenario.
type RTResult struct {
	Mode    string
	TopHalf string  // uiodrv modes: the port's top half
	Rate    float64 // flood rate, frames/s; 0 unpaced (idle: none)
	Rep     int
	Sched   string             // the bottom half's class, when not the mode's default
	Probe   string             // the periodic task: cyclictest or go
	Hung    bool               // the watchdog found the run stuck, dumped its threads and ended it
	Fields  map[string]float64 // jobs, misses, p50, p99, max, processed, irqs, rx, dropped, secs
	Flooded int
	Err     string
}

// LabResult is one boot's measurements.
type LabResult struct {
	Kernel  string
	QEMU    string
	Targets []*TargetResult
	RT      []*RTResult
	Boot    time.Duration
	Total   time.Duration
}

func (o *LabOptions) logf(format string, a ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", a...)
	}
}

// RunLab boots the lab once and measures every target.
func RunLab(ctx context.Context, o LabOptions) (*LabResult, error) {
	plan := &GuestPlan{Backend: o.Backend, Modes: o.Modes, Profile: map[deferral.Mode]bool{}}
	cfg := qemu.Config{IOMMU: o.Backend == driver.BackendVFIO, Timeout: o.Timeout, Hugepages: 64, Cmdline: o.Cmdline}
	var rtNIC, kNIC = -1, -1
	for i, n := range o.NICs {
		if n.Kernel && kNIC < 0 && n.Model != qemu.IGB {
			kNIC = i
		}
		cfg.NICs = append(cfg.NICs, qemu.NIC{Model: n.Model, Addr: n.Addr, MAC: n.MAC, Mitigation: n.Mitigation})
		cfg.Bind = append(cfg.Bind, qemu.Binding{BDF: n.BDF(), Driver: n.Driver(o.Backend)})
		plan.Targets = append(plan.Targets, n.target())
		if !n.Kernel && rtNIC < 0 && n.Model != qemu.IGB { // guestRT opens e1000s
			rtNIC = i
		}
	}
	for _, m := range o.Profile {
		plan.Profile[m] = true
	}
	if o.RTOnly {
		plan.Targets = nil
	}
	guest := "/bin/bench.test"
	cfg.Files = []qemu.File{{Host: o.TestBinary, Guest: guest}}
	cfg.Commands = []qemu.Command{{Args: []string{guest, "-test.v", "-test.count=1", "-test.timeout=60m",
		"-test.run", "^TestGuestBench$"}, Env: plan.Env()}}
	// The real-time scenario: one guest process per mode (the first: the
	// idle floor), each killed if it outlives its bound.
	var rtRuns []rtRun
	rtTarget := ""
	if o.RTTime > 0 && rtNIC >= 0 {
		rtTarget = o.NICs[rtNIC].BDF()
		rtRuns = o.rtRuns(kNIC >= 0)
		if o.RTProbe == "" || o.RTProbe == ProbeCyclictest {
			files, err := qemu.StageCyclictest()
			if err != nil {
				return nil, err
			}
			cfg.Files = append(cfg.Files, files...)
		}
		for _, run := range rtRuns {
			rp := *plan
			rp.Targets, rp.RTModes = nil, nil
			if run.mode == "kernel" {
				rp.RTKernel = o.NICs[kNIC].BDF()
			} else if run.mode != "idle" {
				mode, _ := deferral.ParseMode(run.mode)
				rp.RTModes = []deferral.Mode{mode}
			}
			rp.RTTarget, rp.RTDuration, rp.RTWork, rp.RTTaskWork = rtTarget, o.RTTime, o.RTWork, o.RTTaskWork
			rp.RTIRQPrio, rp.RTTaskPrio, rp.RTTopHalf = o.RTIRQPrio, o.RTTaskPrio, run.th
			rp.RTProbe, rp.RTTopNone = o.RTProbe, run.none
			if rp.RTProbe == "" || rp.RTProbe == ProbeCyclictest {
				rp.RTTaskWork = 0 // cyclictest only measures wake-ups
			}
			if !run.sched.IsZero() {
				rp.RTBHSched = run.sched.String()
			}
			env := rp.Env()
			// Diagnostic switches of the deferral package pass through.
			for _, k := range []string{"UIODRV_DL_SELF_ENFORCE", "UIODRV_HRTICK_DL"} {
				if v, ok := os.LookupEnv(k); ok {
					env = append(env, k+"="+v)
				}
			}
			cfg.Commands = append(cfg.Commands, qemu.Command{Args: []string{guest, "-test.v", "-test.count=1",
				"-test.run", "^TestGuestRT$"}, Env: env, Timeout: 3*o.RTTime + 45*time.Second})
		}
	}
	if o.Log != nil {
		cfg.Output = o.Log
	}
	unlock, err := labLock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	vm, err := qemu.StartReady(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	defer vm.Close()
	res := &LabResult{}
	if out, err := runOutput("qemu-system-x86_64", "--version"); err == nil {
		res.QEMU = strings.SplitN(out, "\n", 2)[0]
	}
	wait := func(substr string) (string, error) {
		c, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		return vm.WaitOutput(c, 0, substr)
	}
	for i, n := range o.NICs {
		if o.RTOnly {
			break
		}
		mac, _ := net.ParseMAC(n.MAC)
		link := NewLink(vm.Peer(i), mac)
		link.Flows = n.Flows
		modes := []string{"kernel"}
		if !n.Kernel {
			modes = modes[:0]
			for _, m := range o.Modes {
				modes = append(modes, m.String())
			}
		}
		for _, mode := range modes {
			tag := n.BDF() + " " + mode
			if _, err := wait("BENCH READY " + tag); err != nil {
				return res, fmt.Errorf("%s: %w", tag, err)
			}
			r := measure(&o, link, vm.PID(), n, mode)
			res.Targets = append(res.Targets, r)
			if _, err := link.Done(20 * time.Second); err != nil && r.Err == "" {
				r.Err = "done: " + err.Error()
			}
			line, err := wait("BENCH DONE " + tag)
			if err != nil {
				return res, fmt.Errorf("%s: %w", tag, err)
			}
			r.Guest = line
			o.logf("bench: %s %s: rtt p50 %v p99 %v, %.0f frames/s reflected (window %d), lossless up to %.0f/s, cpu %.2f idle %.2f %s",
				n.Name(), mode, time.Duration(r.RTT.Quantile(0.5)), time.Duration(r.RTT.Quantile(0.99)), r.Tput, o.Window,
				r.MaxRate, r.CPUMod, r.CPUIdle, r.Err)
			link.Drain(50 * time.Millisecond)
		}
	}
	if rtTarget != "" {
		mac, _ := net.ParseMAC(o.NICs[rtNIC].MAC)
		uLink := NewLink(vm.Peer(rtNIC), mac)
		var kLink *Link
		if kNIC >= 0 {
			kmac, _ := net.ParseMAC(o.NICs[kNIC].MAC)
			kLink = NewLink(vm.Peer(kNIC), kmac)
		}
		for j, run := range rtRuns {
			mode := run.mode
			tag := rtTarget + " " + mode
			link := uLink
			if mode == "kernel" {
				tag, link = o.NICs[kNIC].BDF()+" kernel", kLink
			}
			c, cancel := context.WithTimeout(ctx, 5*time.Minute)
			_, err := vm.WaitOutput(c, 1+j, "RT READY "+tag)
			cancel()
			if err != nil {
				res.RT = append(res.RT, &RTResult{Mode: run.label(), Rate: run.rate, Rep: run.rep, Err: "never ready: " + err.Error()})
				continue
			}
			stop := make(chan struct{})
			sent := make(chan int, 1)
			go func() {
				if mode == "idle" {
					<-stop
					sent <- 0
					return
				}
				// The flood stops on its own after twice the task's run: a
				// mode that starves the task completely (the top half at a
				// higher SCHED_FIFO priority never yielding) would otherwise
				// never let it finish. The starvation shows as misses.
				limit := make(chan struct{})
				t := time.AfterFunc(2*o.RTTime+2*time.Second, func() { close(limit) })
				defer t.Stop()
				both := make(chan struct{})
				go func() {
					select {
					case <-stop:
					case <-limit:
					}
					close(both)
				}()
				n, _ := link.Flood(run.rate, both)
				sent <- n
			}()
			c, cancel = context.WithTimeout(ctx, 3*o.RTTime+50*time.Second)
			line, hung, err := waitRTResult(c, vm, 1+j, tag)
			cancel()
			close(stop)
			flooded := <-sent
			rr := &RTResult{Mode: run.label(), TopHalf: run.topName(), Rate: run.rate, Rep: run.rep, Fields: ParseKV(line), Flooded: flooded, Hung: hung, Probe: o.RTProbe}
			if rr.Probe == "" {
				rr.Probe = ProbeCyclictest
			}
			if !run.sched.IsZero() {
				rr.Sched = run.sched.String()
			}
			switch {
			case hung:
				rr.Err = "HUNG: the watchdog dumped the threads (RT HANG lines) and ended the run"
			case err != nil:
				rr.Err = fmt.Sprintf("no result within %v: the guest process was killed", 3*o.RTTime+45*time.Second)
			}
			res.RT = append(res.RT, rr)
			o.logf("bench: rt rep %d rate %.0f top %s sched %s %s %s", run.rep, run.rate, run.topName(), rr.Sched, line, rr.Err)
			link.Drain(100 * time.Millisecond)
		}
	}
	qr, err := vm.Wait()
	if qr != nil {
		res.Kernel, res.Boot, res.Total = qr.Kernel, qr.Boot, qr.Total
		collectProfiles(res, qr.Output)
		if err == nil && len(qr.Exits) > 0 && (!qr.Exits[0].Ended || qr.Exits[0].Code != 0) {
			err = fmt.Errorf("guest bench process: %+v", qr.Exits[0])
		}
	}
	return res, err
}

func measure(o *LabOptions, l *Link, qemuPID int, n LabNIC, mode string) *TargetResult {
	r := &TargetResult{NIC: n, Mode: mode}
	fail := func(what string, err error) *TargetResult {
		r.Err = what + ": " + err.Error()
		return r
	}
	if _, err := l.Query(30 * time.Second); err != nil {
		return fail("first query", err)
	}
	// Warm-up: the first frames pay for page faults and lazy paths.
	if _, _, err := l.Throughput(500, o.Window); err != nil {
		return fail("warm-up", err)
	}
	var err error
	if r.RTTLost, err = l.RoundTrips(o.RTT, &r.RTT, &r.Samples); err != nil {
		return fail("round trips", err)
	}
	t0 := ReadThreadCPU(qemuPID)
	start := time.Now()
	if r.Tput, r.TLost, err = l.Throughput(o.TputFrames, o.Window); err != nil {
		return fail("throughput", err)
	}
	r.QEMU = ThreadCPUDelta(t0, ReadThreadCPU(qemuPID), time.Since(start))
	l.Drain(50 * time.Millisecond)
	// The rest are independent: a failure is noted and the next one runs.
	note := func(what string, err error) {
		if err != nil {
			r.Err = strings.TrimPrefix(r.Err+"; "+what+": "+err.Error(), "; ")
		}
	}
	r.CPUIdle, _, err = l.CPULoad(0, o.CPUTime/2, 2)
	note("idle cpu", err)
	r.CPUMod, r.CPUCnt, err = l.CPULoad(o.CPURate, o.CPUTime, 2)
	note("cpu", err)
	r.CPULight, _, err = l.CPULoad(o.CPULight, o.CPUTime, 2)
	note("light cpu", err)
	r.Ladder, err = l.RateLadder(o.Rates, o.RateStep)
	r.MaxRate = MaxLossless(r.Ladder)
	note("rate ladder", err)
	return r
}

func modeNames(ms []deferral.Mode) []string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	return s
}

// ParseKV reads the k=v fields of a guest line as numbers (others are skipped).
func ParseKV(line string) map[string]float64 {
	m := map[string]float64{}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		if x, err := strconv.ParseFloat(v, 64); err == nil {
			m[k] = x
		}
	}
	return m
}

func collectProfiles(res *LabResult, out [][]string) {
	if len(out) == 0 {
		return
	}
	chunks := map[string]*strings.Builder{}
	for _, l := range out[0] {
		rest, ok := strings.CutPrefix(l, "BENCH PPROF ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 3 {
			continue
		}
		k := f[0] + " " + f[1]
		if chunks[k] == nil {
			chunks[k] = &strings.Builder{}
		}
		chunks[k].WriteString(f[2])
	}
	for _, t := range res.Targets {
		if b := chunks[t.NIC.BDF()+" "+t.Mode]; b != nil {
			t.Profile, _ = base64.StdEncoding.DecodeString(b.String())
		}
	}
}

// labLock takes the host-wide lab lock that qemu/labtest uses, so that this
// boot does not share the 2 cores with another package's lab test.
func labLock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "uiodrv-lab.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
