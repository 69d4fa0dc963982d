package bench

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/uiodrv/uiodrv/qemu"
)

// runRT runs the lab real-time scenario's guest processes (rtRuns, command
// 1+j each) on the NIC rtNIC, the kernel runs on kNIC, flooding each from
// the host while it runs.
func (o *LabOptions) runRT(ctx context.Context, vm *qemu.VM, rtRuns []rtRun, rtNIC, kNIC int) []*RTResult {
	var out []*RTResult
	rtTarget := o.NICs[rtNIC].BDF()
	mac, _ := net.ParseMAC(o.NICs[rtNIC].MAC)
	uLink := NewLink(vm.Peer(rtNIC), mac)
	var kLink *Link
	if kNIC >= 0 {
		kmac, _ := net.ParseMAC(o.NICs[kNIC].MAC)
		kLink = NewLink(vm.Peer(kNIC), kmac)
	}
	hp := &hostPlacer{vm: vm, o: o, cur: HostShared}
	defer func() {
		if err := hp.undo(); err != nil {
			o.logf("bench: rt host placement: %v", err)
		}
	}()
	for j, run := range rtRuns {
		mode := run.mode
		if err := hp.set(run.host); err != nil {
			out = append(out, &RTResult{Mode: run.label(), Rate: run.rate, Rep: run.rep, Host: run.host, Err: "host placement: " + err.Error()})
			continue
		}
		tag := rtTarget + " " + mode
		link := uLink
		if mode == "kernel" {
			tag, link = o.NICs[kNIC].BDF()+" kernel", kLink
		}
		if run.uidle != nil {
			tag = UIdleTag(rtTarget, run.uidle.Name)
		}
		c, cancel := context.WithTimeout(ctx, 5*time.Minute)
		_, err := vm.WaitOutput(c, 1+j, "RT READY "+tag)
		cancel()
		if err != nil {
			out = append(out, &RTResult{Mode: run.label(), Rate: run.rate, Rep: run.rep, Err: "never ready: " + err.Error()})
			continue
		}
		if o.RTQSP {
			o.qsp(vm, "sync-profile reset", "sync-profile on")
		}
		stop := make(chan struct{})
		sent := make(chan int, 1)
		rtt := make(chan rttResult, 1)
		if o.RTRTT && mode != "idle" && run.rate != noTraffic {
			go func() { rtt <- probeRTT(link.twin(), stop) }()
		} else {
			rtt <- rttResult{}
		}
		go func() {
			if mode == "idle" || run.rate == noTraffic {
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
		rr := &RTResult{Mode: run.label(), TopHalf: run.topName(), Rate: run.rate, Rep: run.rep, Fields: ParseKV(line), Flooded: flooded,
			Hung: hung, Probe: o.RTProbe, Host: run.host}
		if r := <-rtt; r.n+r.lost > 0 && rr.Fields != nil {
			r.store(rr.Fields)
		}
		if rr.Probe == "" {
			rr.Probe = ProbeCyclictest
		}
		if o.RTQSP {
			rr.QSP = o.qsp(vm, "info sync-profile 12", "sync-profile off")
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
		if dropWarmup(run, rr) {
			o.logf("bench: rt warm-up (dropped): %s", line)
			link.Drain(100 * time.Millisecond)
			continue
		}
		out = append(out, rr)
		o.logf("bench: rt rep %d rate %.0f top %s sched %s host %s %s %s", run.rep, run.rate, run.topName(), rr.Sched, run.host, line, rr.Err)
		link.Drain(100 * time.Millisecond)
	}
	return out
}

// dropWarmup: a warm-up run's result is left out of the tables, unless it
// failed or hung. A hang counts as a failure wherever it happens, never as
// "no result", so a failed warm-up is kept and tabulated as a failed idle run.
func dropWarmup(run rtRun, rr *RTResult) bool {
	return run.warmup && rr.Err == "" && !rr.Hung
}

// qsp runs HMP commands and returns the first's output; a failure is logged,
// not fatal: the profile explains a run, it is not its result.
func (o *LabOptions) qsp(vm *qemu.VM, cmds ...string) string {
	var first string
	for i, c := range cmds {
		out, err := vm.HMP(c)
		if err != nil {
			o.logf("bench: %v", err)
		}
		if i == 0 {
			first = out
		}
	}
	return first
}
