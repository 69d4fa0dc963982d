package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
)

// uiodrvGuest is where the uiodrv command lands in the guest (RTUIdle).
const uiodrvGuest = "/bin/uiodrv"

// RunLab boots the lab once and measures every target.
func RunLab(ctx context.Context, o LabOptions) (*LabResult, error) {
	plan := &GuestPlan{Backend: o.Backend, Modes: o.Modes, Profile: map[deferral.Mode]bool{}, KernelModes: o.KernelModes}
	cfg := qemu.Config{IOMMU: o.Backend == driver.BackendVFIO, Timeout: o.Timeout, Hugepages: 64, Cmdline: o.Cmdline, Kernel: o.Kernel,
		Halt: true} // measured as on hardware: idle vCPUs halt
	var rtNIC, kNIC = -1, -1
	for i, n := range o.NICs {
		if n.Kernel && kNIC < 0 && n.Model != qemu.IGB && n.Model != qemu.VirtioNet {
			kNIC = i
		}
		cfg.NICs = append(cfg.NICs, qemu.NIC{Model: n.Model, Addr: n.Addr, MAC: n.MAC, Mitigation: n.Mitigation, Queues: n.Netdev})
		cfg.Bind = append(cfg.Bind, qemu.Binding{BDF: n.BDF(), Driver: n.Driver(o.Backend)})
		plan.Targets = append(plan.Targets, n.target())
		if !n.Kernel && rtNIC < 0 && n.Model != qemu.IGB && n.Model != qemu.VirtioNet { // guestRT opens e1000s
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
		cfg.QMP = cfg.QMP || len(o.RTHost) > 0 // labrt_host.go asks QEMU for its vCPU threads
		if o.RTProbe == "" || o.RTProbe == ProbeCyclictest {
			files, err := qemu.StageCyclictest()
			if err != nil {
				return nil, err
			}
			cfg.Files = append(cfg.Files, files...)
		}
		if len(o.RTUIdle) > 0 {
			cfg.Files = append(cfg.Files, qemu.File{Host: o.UiodrvBinary, Guest: uiodrvGuest})
			if o.UiodrvBefore != "" {
				cfg.Files = append(cfg.Files, qemu.File{Host: o.UiodrvBefore, Guest: uiodrvGuest + "-before"})
			}
		}
		for _, run := range rtRuns {
			rp := *plan
			rp.Targets, rp.RTModes = nil, nil
			if v := run.uidle; v != nil {
				rp.RTUIdleArgs, rp.RTUIdleEnv, rp.RTUIdleName = strings.Join(v.Args, " "), strings.Join(v.Env, " "), v.Name
				rp.RTUIdleBin = uiodrvGuest
				if v.Before {
					rp.RTUIdleBin += "-before"
				}
			} else if run.mode == "kernel" {
				rp.RTKernel = o.NICs[kNIC].BDF()
				rp.RTKernelBest, rp.RTKernelNAPIOff = o.RTKernelBest, o.RTKernelNAPIOff
			} else if run.mode != "idle" {
				mode, _ := deferral.ParseMode(run.mode)
				rp.RTModes = []deferral.Mode{mode}
			}
			rp.RTTarget, rp.RTDuration, rp.RTWork, rp.RTTaskWork = rtTarget, o.RTTime, o.RTWork, o.RTTaskWork
			rp.RTPartition = o.RTPartition && run.mode != "kernel" && run.mode != "idle"
			rp.RTIRQPrio, rp.RTTaskPrio, rp.RTTopHalf = o.RTIRQPrio, o.RTTaskPrio, run.th
			rp.RTProbe, rp.RTTopNone, rp.RTIRQOff = o.RTProbe, run.none, o.RTIRQOff
			// The e1000e interrupts through MSI-X, as in the throughput
			// runs and as the guest kernel's e1000e driver does.
			rp.RTMSIX = o.NICs[rtNIC].Model == qemu.E1000E && o.Backend == driver.BackendVFIO
			rp.RTITR, rp.RTProcOff = o.RTITR, o.RTProcOff
			if rp.RTProbe == "" || rp.RTProbe == ProbeCyclictest {
				rp.RTTaskWork = 0 // cyclictest only measures wake-ups
			}
			if !run.sched.IsZero() {
				rp.RTBHSched = run.sched.String()
			}
			env := rp.Env()
			// The bench's scheduler-feature switch passes through.
			for _, k := range []string{"UIODRV_HRTICK_DL"} {
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
		modes := append([]string{"kernel"}, o.KernelModes...)
		if !n.Kernel {
			modes = modes[:0]
			for _, m := range o.Modes {
				modes = append(modes, m.String())
			}
		}
		for _, mode := range modes {
			tag := n.BDF() + " " + mode
			link.ToNIC = slices.Contains(KernelUDPModes, mode) // the kernel's UDP responders
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
			sent := func(rate float64) int { return int(rate*o.CPUTime.Seconds()) * len(r.Reps) }
			o.logf("bench: %s %s: cpu loads counted %d of %d frames at %.0f/s, %d of %d at %.0f/s",
				n.Name(), mode, r.CPUCnt, sent(o.CPURate), o.CPURate, r.CPULightCnt, sent(o.CPULight), o.CPULight)
			link.Drain(50 * time.Millisecond)
		}
	}
	if rtTarget != "" {
		res.RT = o.runRT(ctx, vm, rtRuns, rtNIC, kNIC)
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
	sites := map[string][]string{}
	for _, l := range out[0] {
		if rest, ok := strings.CutPrefix(l, "BENCH ALLOCS "); ok {
			if f := strings.SplitN(rest, " ", 3); len(f) == 3 {
				sites[f[0]+" "+f[1]] = append(sites[f[0]+" "+f[1]], f[2])
			}
			continue
		}
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
		t.AllocSites = sites[t.NIC.BDF()+" "+t.Mode]
		if b := chunks[t.NIC.BDF()+" "+t.Mode]; b != nil {
			t.Profile, _ = base64.StdEncoding.DecodeString(b.String())
		}
	}
}

// labLock takes the lab lock that qemu/labtest uses (qemu.LockLab), so
// that this boot does not share the 2 cores with another package's lab test.
func labLock() (func(), error) { return qemu.LockLab() }
