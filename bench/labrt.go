package bench

import (
	"context"
	"strings"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/rt"
)

// The real-time stage's run list and result wait (RunLab drives them).

// rtRun is one guest process of the real-time scenario.
type rtRun struct {
	mode string // "idle", "kernel" or a deferral mode
	th   driver.TopHalf
	rate float64
	rep  int
	// sched is the bottom half's class (threaded and workqueue runs with
	// LabOptions.RTBHSched); zero: the mode's default.
	sched rt.Sched
	// none: no top half above the bottom half (LabOptions.RTTopNone).
	none bool
	// host is the host placement (LabOptions.RTHost); "": none.
	host string
	// warmup: an idle run whose result is dropped (LabOptions.RTWarmup).
	warmup bool
	// uidle: an idle uiodrv command (LabOptions.RTUIdle); rate is then
	// noTraffic, as for the kernel's row beside it.
	uidle *UIdleVariant
}

// noTraffic is the rate of runs the host sends nothing to (idle uiodrv and
// the idle kernel driver beside it); tables name it "no traffic".
const noTraffic = -1

// topName is the run's top half as tables show it.
func (r rtRun) topName() string {
	if r.none {
		return "none"
	}
	return r.th.String()
}

// label names a run in tables and logs: the mode, "+deadline" (or the class)
// when the bottom half has one.
func (r rtRun) label() string {
	if r.uidle != nil {
		return "uiodrv idle " + r.uidle.Name
	}
	if r.sched.IsZero() {
		return r.mode
	}
	return r.mode + "+" + r.sched.Policy.String()
}

// key names a uiodrv run for LabOptions.RTRows: "mode[+class]/top".
func (r rtRun) key() string { return r.label() + "/" + r.topName() }

// rtRuns lists the real-time runs: per repetition the idle floor, then every
// rate and mode (only those RTRows lists, when it is set).
func (o *LabOptions) rtRuns(kernel bool) []rtRun {
	runs := withHost(o.keptRTRuns(kernel), o.RTHost)
	if o.RTWarmup && len(runs) > 0 {
		// Under the first run's placement, so that the placement in force
		// when the first measured run starts has already settled too.
		runs = append([]rtRun{{mode: "idle", warmup: true, host: runs[0].host}}, runs...)
	}
	return runs
}

func (o *LabOptions) keptRTRuns(kernel bool) []rtRun {
	runs := o.allRTRuns(kernel)
	if len(o.RTRows) == 0 {
		return runs
	}
	keep := map[string]bool{}
	for _, k := range o.RTRows {
		keep[strings.TrimSpace(k)] = true
	}
	out := runs[:0]
	for _, r := range runs {
		if r.mode == "idle" || r.mode == "kernel" || r.uidle != nil || keep[r.key()] {
			out = append(out, r)
		}
	}
	return out
}

func (o *LabOptions) allRTRuns(kernel bool) []rtRun {
	rates := o.RTRates
	if len(rates) == 0 {
		rates = []float64{o.RTRate}
	}
	ths := o.RTTopHalves
	if len(ths) == 0 {
		ths = []driver.TopHalf{o.RTTopHalf}
	}
	var runs []rtRun
	for rep := 0; rep < max(o.RTReps, 1); rep++ {
		if !o.RTNoIdle {
			runs = append(runs, rtRun{mode: "idle", rep: rep})
		}
		if len(o.RTUIdle) > 0 && o.RTKernel && kernel {
			runs = append(runs, rtRun{mode: "kernel", rate: noTraffic, rep: rep})
		}
		for i := range o.RTUIdle {
			runs = append(runs, rtRun{mode: "uidle", uidle: &o.RTUIdle[i], rate: noTraffic, rep: rep})
		}
		for _, r := range rates {
			for _, m := range modeNames(o.RTModes) {
				scheds := []rt.Sched{{}}
				if !o.RTBHSched.IsZero() && (m == deferral.ModeThreaded.String() || m == deferral.ModeWorkqueue.String()) {
					scheds = append(scheds, o.RTBHSched)
					if o.RTSchedOnly {
						scheds = scheds[1:]
					}
				}
				for _, sc := range scheds {
					for _, th := range ths {
						if th == driver.TopHalfThread && m != deferral.ModeThreaded.String() && m != deferral.ModeWorkqueue.String() {
							continue // the IRQ thread or the single worker taking the interrupt
						}
						runs = append(runs, rtRun{mode: m, th: th, rate: r, rep: rep, sched: sc})
					}
					if o.RTTopNone && (m == deferral.ModeThreaded.String() || m == deferral.ModeWorkqueue.String() ||
						m == deferral.ModeNAPI.String() && sc.IsZero()) {
						runs = append(runs, rtRun{mode: m, th: driver.TopHalfLight, rate: r, rep: rep, sched: sc, none: true})
					}
				}
			}
			if o.RTKernel && kernel {
				runs = append(runs, rtRun{mode: "kernel", rate: r, rep: rep})
			}
		}
	}
	return runs
}

// waitRTResult waits for a run's RT RESULT line, or for its watchdog's
// verdict that it hung.
func waitRTResult(ctx context.Context, vm *qemu.VM, cmd int, tag string) (line string, hung bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hangCh := make(chan bool, 1)
	go func() {
		_, err := vm.WaitOutput(ctx, cmd, "RT HANG sending SIGQUIT")
		hangCh <- err == nil
		cancel()
	}()
	line, err = vm.WaitOutput(ctx, cmd, "RT RESULT "+tag)
	cancel()
	if <-hangCh && err != nil {
		return "", true, err
	}
	return line, false, err
}

// TopNoneSched is the top half's class when no top half may run above the
// bottom half: the bottom half's own (deferral.BottomHalfSched). NAPI's poll
// runs on the top half's thread, so for NAPI it is the class of the kernel's
// IRQ threads under threadirqs (SCHED_FIFO 50), where a softirq raised by a
// threaded handler runs in that thread: napi/none is NAPI as a threadirqs
// kernel runs it (uiodrv run --mode napi --rt-prio 50).
func TopNoneSched(mode deferral.Mode, bhs rt.Sched) rt.Sched {
	if mode == deferral.ModeNAPI {
		return rt.FIFO(deferral.DefaultIRQThreadPrio)
	}
	return deferral.BottomHalfSched(mode, bhs, 0)
}
