package bench

import (
	"context"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
)

// The real-time stage's run list and result wait (RunLab drives them).

// rtRun is one guest process of the real-time scenario.
type rtRun struct {
	mode string // "idle", "kernel" or a deferral mode
	th   driver.TopHalf
	rate float64
	rep  int
}

// rtRuns lists the real-time runs: per repetition the idle floor, then every
// rate and mode.
func (o *LabOptions) rtRuns(kernel bool) []rtRun {
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
		runs = append(runs, rtRun{mode: "idle", rep: rep})
		for _, r := range rates {
			for _, m := range modeNames(o.RTModes) {
				for _, th := range ths {
					runs = append(runs, rtRun{mode: m, th: th, rate: r, rep: rep})
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
