package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/rt"
)

// LabOptions configures one bench boot.
type LabOptions struct {
	NICs    []LabNIC
	Backend driver.Backend
	Modes   []deferral.Mode
	Profile []deferral.Mode // uiodrv modes whose guest CPU profile is collected

	RTT        int // round trips per target and repetition
	TputFrames int // frames reflected for throughput, per repetition
	// Reps repeats the round trips, the throughput and the two CPU loads
	// per target (0 means 1): RTT, throughput, RTT, throughput, ...; then
	// CPU at CPURate, at CPULight, ... Tables show the median and spread.
	Reps     int
	Window   int       // frames in flight for throughput
	Rates    []float64 // RX-rate ladder, frames/s
	RateStep time.Duration
	CPURate  float64 // the "moderate" rate of the CPU measurement
	CPULight float64 // a light rate, measured too
	CPUTime  time.Duration

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
	RTBHSched rt.Sched
	// RTSchedOnly drops the threaded and workqueue runs of the default
	// class when RTBHSched is set (experiments on the deadline class).
	RTSchedOnly bool
	// RTWarmup adds one idle run before all others whose result is logged
	// and dropped: the first run after a boot missed the most in 4 of 5
	// boots (the guest settling), which skews the first repetition's floor.
	// A warm-up that fails or hangs is kept, as a failed idle run.
	RTWarmup bool
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
	// RTIRQOff runs every run with the NIC's interrupt and the guest
	// process off the task's vCPU (GuestPlan.RTIRQOff): an experiment that
	// measures the host's share of the misses.
	RTIRQOff bool
	// RTProcOff moves the guest process's unpinned threads off the task's
	// vCPU (GuestPlan.RTProcOff).
	RTProcOff bool
	// RTITR throttles the real-time NIC's interrupts (GuestPlan.RTITR).
	RTITR uint32
	// RTProbe is the periodic task: ProbeCyclictest (empty means it) or
	// ProbeGo.
	RTProbe string
	// RTHost, unless empty, runs every real-time run once per host
	// placement it lists (HostShared, HostPinned, HostFIFO; labrt_host.go),
	// interleaved in the same boot.
	RTHost []string
	// RTQSP profiles QEMU's locks during every real-time run (HMP
	// sync-profile; it times every lock taken, so it costs a little).
	RTQSP bool
	// RTRTT measures round trips through the target while each real-time
	// run's traffic flows (rttprobe.go): what a frame's latency pays for
	// the bottom half's class, the deadline class's period waits above all.
	RTRTT bool
	// RTKernelBest runs the kernel's row in its best real-time
	// configuration (GuestPlan.RTKernelBest, rtbest_linux.go).
	RTKernelBest bool
	// RTKernelNAPIOff, with RTKernelBest, puts the kernel's NAPI threads on
	// the other vCPU instead of the task's (GuestPlan.RTKernelNAPIOff).
	RTKernelNAPIOff bool
	// RTPartition runs uiodrv's rows in a cpuset partition of vCPU 1
	// (GuestPlan.RTPartition).
	RTPartition bool
	// RTUIdle adds, per repetition, one run of the uiodrv command per
	// variant on the real-time NIC with no traffic (rtuidle_linux.go), and
	// the kernel's row with no traffic beside it (with RTKernel).
	RTUIdle []UIdleVariant
	// UiodrvBinary and UiodrvBefore are static uiodrv binaries staged into
	// the guest for RTUIdle: the one built from this tree, and the one an
	// UIdleVariant.Before run uses (a build from before a change).
	UiodrvBinary, UiodrvBefore string
	// Cmdline is appended to the guest kernel's command line (threadirqs).
	Cmdline string
	// Kernel is the guest kernel (qemu.LabKernels; the zero value is 6.1).
	Kernel qemu.KernelSeries
	// KernelModes adds the kernel's UDP responders (KernelUDPModes) on
	// every kernel NIC, after its AF_PACKET row.
	KernelModes []string

	TestBinary string    // the guest test binary (qemu.BuildTest("./bench", ...))
	Log        io.Writer // progress; nil discards
	Timeout    time.Duration
}

// TargetResult is what the host measured on one target (NIC and mode).
type TargetResult struct {
	NIC     LabNIC
	Mode    string             // a deferral mode, or "kernel"
	RTT     deferral.Histogram // every repetition's round trips together
	Samples []time.Duration
	RTTLost int
	// Reps are the repetitions (LabOptions.Reps); Tput, CPUMod and
	// CPULight are their medians.
	Reps     []Rep
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
	// AllocSites are the guest's top allocation sites during the run
	// (BENCH ALLOCS: "n=<objects> site=<frames>").
	AllocSites []string
	Err        string

	// CPULightCnt is the frames the guest counted at CPULight, summed over
	// the repetitions (CPUCnt at CPURate): a load carried every frame when
	// its count equals what was sent.
	CPULightCnt uint64
}

// Rep is one repetition of a target's measurements.
type Rep struct {
	P50, P99 float64 // round trip, ns
	RTTs     int     // round trips measured
	Tput     float64 // frames/s reflected with Window in flight
	CPUMod   float64 // guest cores busy at CPURate
	CPULight float64 // guest cores busy at CPULight
}

// RTResult is one mode of the lab real-time scenario.
type RTResult struct {
	Mode    string
	TopHalf string  // uiodrv modes: the port's top half
	Rate    float64 // flood rate, frames/s; 0 unpaced (idle: none)
	Rep     int
	Sched   string             // the bottom half's class, when not the mode's default
	Probe   string             // the periodic task: cyclictest or go
	Host    string             // the host placement (LabOptions.RTHost); "" or HostShared: none
	Hung    bool               // the watchdog found the run stuck, dumped its threads and ended it
	Fields  map[string]float64 // jobs, misses, p50, p99, max, processed, irqs, rx, dropped, secs; rtt_* from the host (RTRTT)
	Flooded int
	// QSP is QEMU's synchronisation profile over the run (HMP info
	// sync-profile, LabOptions.RTQSP): where its threads waited for its
	// locks, the global one (BQL) above all.
	QSP string `json:",omitempty"`
	Err string
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

// UIdleVariant is one idle uiodrv run: its name in the tables, the uiodrv
// run arguments after --dev and --handler, environment variables (k=v),
// and whether it runs LabOptions.UiodrvBefore.
type UIdleVariant struct {
	Name   string
	Args   []string
	Env    []string
	Before bool
}

// ParseUIdle reads -rt-uidle: variants separated by ';', each
// NAME[@before]=[ENV=VALUE ...] ARGS..., where the leading words with '='
// and no leading dash are environment variables.
func ParseUIdle(s string) ([]UIdleVariant, error) {
	var out []UIdleVariant
	for _, f := range strings.Split(s, ";") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		name, rest, ok := strings.Cut(f, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: want NAME[@before]=ARGS", f)
		}
		v := UIdleVariant{Name: name}
		if n, ok := strings.CutSuffix(name, "@before"); ok {
			v.Name, v.Before = n, true
		}
		if strings.ContainsAny(v.Name, " \t@") {
			return nil, fmt.Errorf("%q: a name is one word", v.Name)
		}
		for _, w := range strings.Fields(rest) {
			if len(v.Args) == 0 && !strings.HasPrefix(w, "-") && strings.Contains(w, "=") {
				v.Env = append(v.Env, w)
				continue
			}
			v.Args = append(v.Args, w)
		}
		if len(v.Args) == 0 {
			return nil, fmt.Errorf("%q: no uiodrv arguments", f)
		}
		out = append(out, v)
	}
	return out, nil
}
