package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/rt"
)

// Target is one NIC in the guest: driven by uiodrv, or by the guest kernel's
// driver through the AF_PACKET peer.
type Target struct {
	BDF    string
	Kernel bool
	// Model is the NIC's QEMU model ("" means e1000 or e1000e, both opened
	// by driver/e1000); "igb" opens driver/igb with Queues queues.
	Model  string
	Queues int
	// Flows: the host spreads its frames over BenchFlows flows (distinct
	// 5-tuples, BuildFlowFrame) for RSS; otherwise all are on flow 0.
	Flows bool
}

// encode is the target's BENCH_TARGETS entry: bdf=kind, or
// bdf=kind:model:queues:flows when it has a model.
func (t Target) encode() string {
	k := "uiodrv"
	if t.Kernel {
		k = "kernel"
	}
	if t.Model == "" {
		return t.BDF + "=" + k
	}
	return fmt.Sprintf("%s=%s:%s:%d:%t", t.BDF, k, t.Model, t.Queues, t.Flows)
}

func parseTarget(f string) (Target, error) {
	bdf, v, _ := strings.Cut(f, "=")
	parts := strings.Split(v, ":")
	t := Target{BDF: bdf, Kernel: parts[0] == "kernel"}
	if parts[0] != "uiodrv" && parts[0] != "kernel" {
		return t, fmt.Errorf("BENCH_TARGETS: %q: kind must be uiodrv or kernel", f)
	}
	switch len(parts) {
	case 1:
		return t, nil
	case 4:
	default:
		return t, fmt.Errorf("BENCH_TARGETS: %q: want bdf=kind or bdf=kind:model:queues:flows", f)
	}
	t.Model = parts[1]
	var err error
	if t.Queues, err = strconv.Atoi(parts[2]); err != nil || t.Queues < 0 {
		return t, fmt.Errorf("BENCH_TARGETS: %q: queues %q is not a count", f, parts[2])
	}
	if t.Flows, err = strconv.ParseBool(parts[3]); err != nil {
		return t, fmt.Errorf("BENCH_TARGETS: %q: flows: %w", f, err)
	}
	return t, nil
}

// GuestPlan is what the guest side runs, in order: each target (every mode
// for uiodrv ones), then the real-time scenario when RTTarget is set.
type GuestPlan struct {
	Backend driver.Backend
	Targets []Target
	Modes   []deferral.Mode
	Profile map[deferral.Mode]bool

	RTTarget   string
	RTModes    []deferral.Mode
	RTDuration time.Duration
	RTWork     time.Duration // bottom-half CPU per frame
	RTTaskWork time.Duration // the periodic task's job
	RTIRQPrio  int
	RTTaskPrio int
	RTTopHalf  driver.TopHalf
	// RTKernel runs the scenario beside the guest kernel's own driver on
	// this NIC (its IRQ moved to core 0) instead of uiodrv.
	RTKernel string
	// RTProbe is the periodic task: "cyclictest" (Debian's rt-tests, run as a
	// process of its own) or "go" (internal/rtprobe in the guest process,
	// what uiodrv rt runs); empty means cyclictest.
	RTProbe string
	// RTBHSched is the bottom half's scheduling class (driver.Config.BHSched),
	// a rt.ParseSched form; empty keeps the mode's default.
	RTBHSched string
	// RTTopNone runs the light top half on a thread of the bottom half's
	// class (threaded: its class, default SCHED_FIFO 50; workqueue: its
	// class, default nice -20) instead of SCHED_FIFO RTIRQPrio: no thread of
	// the port above the bottom half, as a kernel threaded IRQ whose primary
	// handler (for VFIO, the kernel's vfio-pci handler) masks and wakes.
	RTTopNone bool
	// RTIRQOff moves the NIC's interrupt (uiodrv's and the kernel's) and
	// every thread of the guest process but the deadline bottom half to
	// vCPU 1, off the task's vCPU 0: in the guest the task's vCPU then runs
	// what it runs idle, and what it still misses under traffic is the
	// host's share (an experiment, not the done-when's scenario).
	RTIRQOff bool
	// RTProcOff moves the guest process's unpinned threads (the Go
	// runtime's, the bench's own) to vCPU 1 and leaves the interrupt and
	// the pinned halves where they are: what the task then misses beyond
	// idle is the interrupt's and the halves' share.
	RTProcOff bool
	// RTMSIX opens the real-time NIC (an e1000e) with MSI-X, as the guest
	// kernel's e1000e driver does: its hard IRQ is then an eventfd signal,
	// where INTx masks the line in config space (two trapped accesses).
	RTMSIX bool
	// RTITR is the real-time NIC's interrupt throttle (e1000.Options.ITR,
	// 256 ns units; 0: none, the driver's default): each interrupt costs
	// its hard part on the task's CPU, so fewer of them cost the task less.
	RTITR uint32
	// RTKernelBest gives the kernel's run the kernel's best real-time
	// configuration (rtbest_linux.go): threaded NAPI, its IRQ and NAPI
	// threads at SCHED_FIFO below the task on the task's CPU.
	RTKernelBest bool
	// RTKernelNAPIOff, with RTKernelBest, pins the NAPI threads to the
	// other vCPU (1 - the task's): the receive work off the task's CPU,
	// where uiodrv's deadline bottom half is placed (@1); the IRQ threads
	// still follow the interrupt, which the scenario keeps on the task's.
	RTKernelNAPIOff bool
	// RTPartition runs uiodrv's rows (and idle uiodrv commands) in a cgroup
	// v2 cpuset partition of the vCPU other than the task's
	// (rtpartition_linux.go): a root domain of its own, so that a deadline
	// bottom half cannot run on the task's vCPU.
	RTPartition bool
	// RTUIdleArgs, when set, makes the run an idle uiodrv command beside the
	// task (rtuidle_linux.go): RTUIdleBin run --dev RTTarget --handler count
	// and these arguments (space-separated), RTUIdleEnv (space-separated
	// k=v) in its environment; RTUIdleName names it in the tag.
	RTUIdleArgs, RTUIdleBin, RTUIdleEnv, RTUIdleName string
	// KernelModes are the kernel's UDP responders (KernelUDPModes) each
	// kernel target serves after its AF_PACKET one, in this order.
	KernelModes []string
}

// Env encodes the plan as environment variables for the guest test binary.
func (p *GuestPlan) Env() []string {
	var ts []string
	for _, t := range p.Targets {
		ts = append(ts, t.encode())
	}
	var prof []deferral.Mode
	for _, m := range deferral.Modes() {
		if p.Profile[m] {
			prof = append(prof, m)
		}
	}
	return []string{
		"BENCH_BACKEND=" + p.Backend.String(),
		"BENCH_TARGETS=" + strings.Join(ts, ","),
		"BENCH_MODES=" + joinModes(p.Modes),
		"BENCH_PROFILE=" + joinModes(prof),
		"BENCH_KMODES=" + strings.Join(p.KernelModes, ","),
		"BENCH_RT_TARGET=" + p.RTTarget,
		"BENCH_RT_MODES=" + joinModes(p.RTModes),
		"BENCH_RT_DURATION=" + p.RTDuration.String(),
		"BENCH_RT_WORK=" + p.RTWork.String(),
		"BENCH_RT_TASK_WORK=" + p.RTTaskWork.String(),
		"BENCH_RT_PRIOS=" + strconv.Itoa(p.RTIRQPrio) + "," + strconv.Itoa(p.RTTaskPrio),
		"BENCH_RT_TOPHALF=" + p.RTTopHalf.String(),
		"BENCH_RT_KERNEL=" + p.RTKernel,
		"BENCH_RT_PROBE=" + p.RTProbe,
		"BENCH_RT_BHSCHED=" + p.RTBHSched,
		"BENCH_RT_TOPNONE=" + strconv.FormatBool(p.RTTopNone),
		"BENCH_RT_IRQOFF=" + strconv.FormatBool(p.RTIRQOff),
		"BENCH_RT_MSIX=" + strconv.FormatBool(p.RTMSIX),
		"BENCH_RT_PROCOFF=" + strconv.FormatBool(p.RTProcOff),
		"BENCH_RT_ITR=" + strconv.FormatUint(uint64(p.RTITR), 10),
		"BENCH_RT_KBEST=" + strconv.FormatBool(p.RTKernelBest),
		"BENCH_RT_KNAPIOFF=" + strconv.FormatBool(p.RTKernelNAPIOff),
		"BENCH_RT_PARTITION=" + strconv.FormatBool(p.RTPartition),
		"BENCH_RT_UIDLE=" + p.RTUIdleArgs,
		"BENCH_RT_UIDLE_BIN=" + p.RTUIdleBin,
		"BENCH_RT_UIDLE_ENV=" + p.RTUIdleEnv,
		"BENCH_RT_UIDLE_NAME=" + p.RTUIdleName,
	}
}

func joinModes(ms []deferral.Mode) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	return strings.Join(s, ",")
}

func parseModes(s string) ([]deferral.Mode, error) {
	var ms []deferral.Mode
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		m, err := deferral.ParseMode(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// ParseGuestEnv reads a plan written by Env from an environment.
func ParseGuestEnv(environ []string) (*GuestPlan, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "BENCH_") {
			env[k] = v
		}
	}
	p := &GuestPlan{Profile: map[deferral.Mode]bool{}}
	var err error
	if p.Backend, err = driver.ParseBackend(env["BENCH_BACKEND"]); err != nil {
		return nil, fmt.Errorf("BENCH_BACKEND: %w", err)
	}
	for _, f := range strings.Split(env["BENCH_TARGETS"], ",") {
		if f == "" {
			continue
		}
		t, err := parseTarget(f)
		if err != nil {
			return nil, err
		}
		p.Targets = append(p.Targets, t)
	}
	if p.Modes, err = parseModes(env["BENCH_MODES"]); err != nil {
		return nil, fmt.Errorf("BENCH_MODES: %w", err)
	}
	prof, err := parseModes(env["BENCH_PROFILE"])
	if err != nil {
		return nil, fmt.Errorf("BENCH_PROFILE: %w", err)
	}
	for _, m := range prof {
		p.Profile[m] = true
	}
	for _, m := range strings.Split(env["BENCH_KMODES"], ",") {
		if m == "" {
			continue
		}
		if !slices.Contains(KernelUDPModes, m) {
			return nil, fmt.Errorf("BENCH_KMODES: %q: want %s", m, strings.Join(KernelUDPModes, ", "))
		}
		p.KernelModes = append(p.KernelModes, m)
	}
	p.RTTarget = env["BENCH_RT_TARGET"]
	if p.RTTarget == "" {
		return p, nil
	}
	if p.RTModes, err = parseModes(env["BENCH_RT_MODES"]); err != nil {
		return nil, fmt.Errorf("BENCH_RT_MODES: %w", err)
	}
	for k, d := range map[string]*time.Duration{"BENCH_RT_DURATION": &p.RTDuration, "BENCH_RT_WORK": &p.RTWork, "BENCH_RT_TASK_WORK": &p.RTTaskWork} {
		if *d, err = time.ParseDuration(env[k]); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	p.RTKernel = env["BENCH_RT_KERNEL"]
	p.RTUIdleArgs, p.RTUIdleBin, p.RTUIdleEnv, p.RTUIdleName = env["BENCH_RT_UIDLE"], env["BENCH_RT_UIDLE_BIN"], env["BENCH_RT_UIDLE_ENV"], env["BENCH_RT_UIDLE_NAME"]
	switch p.RTProbe = env["BENCH_RT_PROBE"]; p.RTProbe {
	case "", ProbeCyclictest, ProbeGo:
	default:
		return nil, fmt.Errorf("BENCH_RT_PROBE: %q: want %s or %s", p.RTProbe, ProbeCyclictest, ProbeGo)
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{"BENCH_RT_TOPNONE", &p.RTTopNone}, {"BENCH_RT_IRQOFF", &p.RTIRQOff}, {"BENCH_RT_PROCOFF", &p.RTProcOff}, {"BENCH_RT_MSIX", &p.RTMSIX}, {"BENCH_RT_KBEST", &p.RTKernelBest}, {"BENCH_RT_KNAPIOFF", &p.RTKernelNAPIOff}, {"BENCH_RT_PARTITION", &p.RTPartition}} {
		if v := env[b.key]; v != "" {
			if *b.dst, err = strconv.ParseBool(v); err != nil {
				return nil, fmt.Errorf("%s: %w", b.key, err)
			}
		}
	}
	if v := env["BENCH_RT_ITR"]; v != "" {
		itr, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("BENCH_RT_ITR: %w", err)
		}
		p.RTITR = uint32(itr)
	}
	if p.RTBHSched = env["BENCH_RT_BHSCHED"]; p.RTBHSched != "" {
		if _, err := rt.ParseSched(p.RTBHSched); err != nil {
			return nil, fmt.Errorf("BENCH_RT_BHSCHED: %w", err)
		}
	}
	if v := env["BENCH_RT_TOPHALF"]; v != "" {
		if p.RTTopHalf, err = driver.ParseTopHalf(v); err != nil {
			return nil, fmt.Errorf("BENCH_RT_TOPHALF: %w", err)
		}
	}
	a, b, _ := strings.Cut(env["BENCH_RT_PRIOS"], ",")
	if p.RTIRQPrio, err = strconv.Atoi(a); err != nil {
		return nil, fmt.Errorf("BENCH_RT_PRIOS: %w", err)
	}
	if p.RTTaskPrio, err = strconv.Atoi(b); err != nil {
		return nil, fmt.Errorf("BENCH_RT_PRIOS: %w", err)
	}
	return p, nil
}
