package bench

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"github.com/uiodrv/uiodrv/bus"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/qemu/labtest"
	"github.com/uiodrv/uiodrv/rt"
)

// The guest half of the lab benchmarks. The host (cmd/uiodrv-bench or
// TestLab*) sets the plan in the environment (see GuestEnv) and follows the
// same order, driven by the lines printed here:
//
//	BENCH READY <bdf> <mode>     the target serves the bench protocol
//	BENCH DONE <bdf> <mode> ...  the host sent OpDone; counters follow
//	BENCH PPROF <bdf> <mode> <base64 chunk of a CPU profile>
//	BENCH ALLOCS <bdf> <mode> n=... site=...  (before DONE; guestalloc_test.go)
//	RT READY <bdf> <mode>        the host starts its flood
//	RT RESULT <bdf> <mode> k=v...the periodic task's outcome; the host stops
//
// The mode of a kernel-driver target is "kernel"; the idle floor of the
// real-time scenario is "idle".

// guestRunTimeout bounds how long one target waits for the host.
const guestRunTimeout = 5 * time.Minute

func TestGuestBench(t *testing.T) {
	labtest.InGuest(t)
	plan, err := ParseGuestEnv(os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := NewCPUReader()
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	// No allocation is profiled outside the marked throughput repetitions;
	// inside them every one is, with its stack (PhaseSites, phasesites.go).
	// (At rate 1 throughout, every allocation's stack walk would cost ~95 µs
	// under TCG, the CPU-profiled repetition's profile writer's included.)
	runtime.MemProfileRate = 0
	for _, tg := range plan.Targets {
		if tg.Kernel {
			guestKernel(t, tg, cpu)
			for _, m := range plan.KernelModes {
				guestKernelUDP(t, tg, m, cpu)
			}
			continue
		}
		for _, m := range plan.Modes {
			guestUiodrv(t, plan, tg, m, cpu)
		}
	}
}

// TestGuestRT runs the real-time scenario for the modes in the plan (none:
// the idle floor). The host starts it as a process of its own per mode, so
// that nothing one mode leaves behind (a thread at a real-time priority)
// can disturb the next, and a mode that hangs is killed alone.
func TestGuestRT(t *testing.T) {
	labtest.InGuest(t)
	plan, err := ParseGuestEnv(os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	// A hang is a failure, never "no result": the watchdog shows where
	// every thread was, then ends the run (rtwatch_linux.go).
	stop, err := StartWatchdog(plan.RTDuration + 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	guestRT(t, plan)
}

// TestGuestRTWatchdog is the watchdog process of TestGuestRT.
func TestGuestRTWatchdog(t *testing.T) {
	labtest.InGuest(t)
	if os.Getenv(envWatchPID) == "" {
		t.Skip("started by TestGuestRT only")
	}
	if err := runWatchdog(os.Stdout); err != nil {
		t.Fatal(err)
	}
}

func guestKernel(t *testing.T, tg Target, cpu *CPUReader) {
	bdf := tg.BDF
	k, err := OpenKernelPeer(bdf, tg.Flows)
	if err != nil {
		t.Fatalf("%s: %v", bdf, err)
	}
	defer k.Close()
	srv := &Server{CPU: cpu.Read}
	ip0, ipOK := IPInReceives()
	fmt.Printf("BENCH READY %s kernel\n", bdf)
	deadline := time.Now().Add(guestRunTimeout)
	if err := k.Serve(srv, func() bool { return srv.Done() || time.Now().After(deadline) }); err != nil {
		t.Errorf("%s kernel: %v", bdf, err)
	}
	c, r := srv.Served()
	// ip_in: IPv4 datagrams the guest kernel's stack took in meanwhile (all
	// interfaces); the bench frames, PACKET_OTHERHOST, should add none.
	ipIn := ""
	if ip1, ok := IPInReceives(); ok && ipOK {
		ipIn = fmt.Sprintf(" ip_in=%d", ip1-ip0)
	}
	fmt.Printf("BENCH DONE %s kernel if=%s counted=%d reflected=%d%s%s\n", bdf, k.Name(), c, r, kernelQueues(k.Name()), ipIn)
}

func guestUiodrv(t *testing.T, plan *GuestPlan, tg Target, mode deferral.Mode, cpu *CPUReader) {
	bdf := tg.BDF
	tag := fmt.Sprintf("%s %s", bdf, mode)
	dev, regs, err := openBenchDevice(plan, tg, mode)
	if err != nil {
		t.Fatalf("%s: %v", tag, err)
	}
	srv := &Server{CPU: cpu.Read}
	marks := &PhaseMarks{Regs: regs, Sites: &PhaseSites{}}
	cfg := driver.Config{Mode: mode, Handler: &Handler{Srv: srv, Marks: marks}, IRQCPU: 0, BHCPU: 1}
	if mode == deferral.ModeAdaptive {
		// Adaptive polls on the interrupt's CPU, as NAPI does: its thread is
		// woken once per quiet-to-busy change, and a wake-up across vCPUs
		// costs about 0.5 ms under TCG (handoff p50 541 µs on BHCPU 1, 32 µs
		// on 0, in two smoke boots of 2026-12-01).
		cfg.BHCPU = 0
	}
	if tg.Queues > 1 {
		// One queue per vCPU, each queue's halves on its own CPU.
		cfg.IRQCPUs = make([]int, tg.Queues)
		for q := range cfg.IRQCPUs {
			cfg.IRQCPUs[q] = q
		}
	}
	port, err := driver.NewPort(dev, cfg)
	if err != nil {
		dev.(interface{ Close() error }).Close()
		t.Fatalf("%s: %v", tag, err)
	}
	// The CPU profile runs in the host's profiled repetition only (marks.go),
	// started and stopped by the handler at the profile marks.
	var prof guestProfile
	if plan.Profile[mode] {
		marks.Profile = prof.set
	}
	// QEMU's e1000 ignores RX for a second after RCTL is written.
	time.Sleep(1200 * time.Millisecond)
	fmt.Printf("BENCH READY %s\n", tag)
	for deadline := time.Now().Add(guestRunTimeout); !srv.Done(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("%s: the host never finished", tag)
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // let the OpDone reply leave
	regs0 := regFields(regs)          // before Stats, whose statistics registers are no part of the packet path
	st := port.Stats()
	if err := port.Close(); err != nil {
		t.Errorf("%s: close: %v", tag, err)
	}
	if p := prof.bytes(); len(p) > 0 {
		enc := base64.StdEncoding.EncodeToString(p)
		for len(enc) > 0 {
			n := min(len(enc), 3000)
			fmt.Printf("BENCH PPROF %s %s\n", tag, enc[:n])
			enc = enc[n:]
		}
	}
	for _, s := range marks.Sites.Sites(6) {
		fmt.Printf("BENCH ALLOCS %s %s\n", tag, s)
	}
	c, r := srv.Served()
	fmt.Printf("BENCH DONE %s counted=%d reflected=%d rx=%d processed=%d dropped=%d tx=%d txdrop=%d irqs=%d bhruns=%d hwmissed=%d hwnobuf=%d handoff_p50=%d handoff_p99=%d%s%s\n",
		tag, c, r, st.RxPackets, st.Processed, st.Dropped(), st.TxPackets, st.TxDropped, st.IRQs, st.BHRuns,
		st.HW.RxMissed, st.HW.RxNoBuffer, st.HandoffP50.Nanoseconds(), st.HandoffP99.Nanoseconds(),
		regs0(st.RxPackets)+marks.Fields()+marks.Sites.Fields(), queueFields(st))
}

// guestProfile is the CPU profile of a profiled mode: started and stopped
// by the handler's goroutine at the host's profile marks, read by the test
// once the port is closed.
type guestProfile struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	running bool
	took    bool // a profile was taken (the buffer holds it)
}

// set starts (on) or stops the profile; a resent mark changes nothing, and
// only the first start is honoured (one profile per mode).
func (p *guestProfile) set(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && !p.running && !p.took:
		p.running = pprof.StartCPUProfile(&p.buf) == nil
	case !on && p.running:
		pprof.StopCPUProfile()
		p.running, p.took = false, true
	}
}

// bytes stops the profile if the host never did and returns it.
func (p *guestProfile) bytes() []byte {
	p.set(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Bytes()
}

// guestRT runs the real-time scenario on the NIC: top half at RTIRQPrio on
// core 0, every bottom half on core 0 too (BHCPU 0), the periodic task on
// core 0 at RTTaskPrio, and a handler that spends RTWork per counted frame
// while the host floods.
func guestRT(t *testing.T, plan *GuestPlan) {
	task := PeriodicOptions{CPU: 0, Prio: plan.RTTaskPrio, Period: time.Millisecond, Work: plan.RTTaskWork, Duration: plan.RTDuration}
	if plan.RTPartition && plan.RTProbe == ProbeGo {
		t.Fatalf("%s: -rt-partition needs the cyclictest probe: the Go probe runs in the partitioned process", plan.RTTarget)
	}
	// uiodrv's rows with RTPartition re-exec themselves in the partition
	// (rtpartition_linux.go); every other run removes a stale one.
	if note, err := partitionFor(plan.RTPartition && plan.RTKernel == "", 1-task.CPU); err != nil {
		t.Fatalf("%s: -rt-partition: %v", plan.RTTarget, err)
	} else if note != "" {
		fmt.Printf("RT NOTE %s: %s\n", plan.RTTarget, note)
	}
	applyHRTickDL(os.Stdout) // rtsched_linux.go: UIODRV_HRTICK_DL
	run := func(tag string, port *driver.Port, srv *Server, hooks *rtHooks) {
		fmt.Printf("RT READY %s\n", tag)
		time.Sleep(500 * time.Millisecond) // the flood reaches its steady state
		if hooks != nil {
			hooks.before()
		}
		var c0, th0 uint64
		var st0 driver.Stats
		var thT0 time.Duration
		if srv != nil {
			c0, _ = srv.Served()
		}
		if port != nil {
			st0 = port.Stats()
			th0, thT0 = port.TopHalfTime()
		}
		SizeGOMAXPROCS(0) // the port's locked threads are up now
		ss0 := readSchedStats()
		dp0, dy0 := rt.BudgetStats()
		dw0 := rt.PeriodWaits()
		var r *PeriodicResult
		var err error
		if plan.RTProbe == ProbeGo {
			r, err = RunPeriodic(task)
		} else {
			r, err = RunCyclictest("", task)
		}
		if err != nil {
			t.Fatalf("%s: %v", tag, err)
		}
		var c1, th1 uint64
		var st1 driver.Stats
		var thT1 time.Duration
		if srv != nil {
			c1, _ = srv.Served()
		}
		if port != nil {
			st1 = port.Stats()
			th1, thT1 = port.TopHalfTime()
		}
		writeSchedDelta(os.Stdout, tag, ss0, readSchedStats())
		dp1, dy1 := rt.BudgetStats()
		fmt.Printf("RT NOTE %s: clocksource %s; deadline self-enforcement: %d polls, %d yields; %d period waits with the interrupt masked\n",
			tag, clocksource(), dp1-dp0, dy1-dy0, rt.PeriodWaits()-dw0)
		extra := ""
		if hooks != nil {
			extra = hooks.after()
		}
		thNs := 0.0
		if th1 > th0 {
			thNs = float64(thT1-thT0) / float64(th1-th0)
		}
		fmt.Printf("RT RESULT %s probe=%s jobs=%d misses=%d late=%d p50=%d p99=%d p999=%d max=%d processed=%d irqs=%d rx=%d dropped=%d secs=%.3f th_ns=%.0f tophalf=%s hwmissed=%d hwnobuf=%d%s\n",
			tag, probeName(plan.RTProbe), r.Jobs, r.Misses, r.Late, r.Wakeup.Quantile(0.5), r.Wakeup.Quantile(0.99), r.Wakeup.Quantile(0.999), r.Wakeup.Max(),
			c1-c0, st1.IRQs-st0.IRQs, st1.RxPackets-st0.RxPackets, st1.Dropped()-st0.Dropped(), r.Elapsed.Seconds(),
			thNs, topHalfName(port), st1.HW.RxMissed-st0.HW.RxMissed, st1.HW.RxNoBuffer-st0.HW.RxNoBuffer, extra)
	}
	if plan.RTKernel != "" {
		guestRTKernel(t, plan, run)
		return
	}

	if plan.RTUIdleArgs != "" {
		guestRTUIdle(t, plan, run)
		return
	}
	if len(plan.RTModes) == 0 {
		run(plan.RTTarget+" idle", nil, nil, nil)
	}
	for _, mode := range plan.RTModes {
		tag := fmt.Sprintf("%s %s", plan.RTTarget, mode)
		dev, err := e1000.Open(plan.RTTarget, e1000.OpenOptions{Access: bus.Access{Backend: plan.Backend}, Poll: mode == deferral.ModeBusyPoll, NIC: e1000.Options{Promisc: true, MSIX: plan.RTMSIX, ITR: plan.RTITR}})
		if err != nil {
			t.Fatalf("%s: %v", tag, err)
		}
		srv := &Server{}
		var bhs rt.Sched
		if plan.RTBHSched != "" {
			if bhs, err = rt.ParseSched(plan.RTBHSched); err != nil {
				t.Fatalf("%s: %v", tag, err)
			}
		}
		bhcpu := 0
		if bhs.Policy == rt.PolicyDeadline {
			bhcpu = -1 // a deadline thread runs on its whole root domain (deferral's doc)
		}
		cfg := driver.Config{Mode: mode, Handler: &Handler{Srv: srv, Work: plan.RTWork},
			IRQCPU: 0, BHCPU: bhcpu, RTPrio: plan.RTIRQPrio, TopHalf: plan.RTTopHalf, BHSched: bhs}
		if plan.RTTopNone {
			cfg.TopHalf, cfg.RTPrio, cfg.IRQSched, cfg.IRQCPU = driver.TopHalfLight, 0, TopNoneSched(mode, bhs), bhcpu
		}
		if plan.RTTopHalf == driver.TopHalfThread { // one thread at the bottom half's class (labrt.go)
			cfg.RTPrio, cfg.IRQCPU = 0, bhcpu
		}
		if plan.RTIRQOff { // the experiment: nothing of the network on the task's vCPU
			// Pinned halves go to vCPU 1; an unpinned (deadline) one stays so.
			if cfg.IRQCPU == 0 {
				cfg.IRQCPU = 1
			}
			if cfg.BHCPU == 0 {
				cfg.BHCPU = 1
			}
		}
		port, err := driver.NewPort(dev, cfg)
		if err != nil {
			dev.Close()
			t.Fatalf("%s: %v", tag, err)
		}
		irqCPU := 0 // the task's
		switch {
		case plan.RTIRQOff:
			irqCPU = 1
			fmt.Printf("RT NOTE %s: %d threads moved to CPU 1\n", tag, pinProcess(1))
		case plan.RTProcOff:
			n, err := rt.Housekeep([]int{1})
			if err != nil {
				t.Fatalf("%s: %v", tag, err)
			}
			fmt.Printf("RT NOTE %s: housekeeping: %d unpinned threads moved to CPU 1\n", tag, n)
		}
		note, err := steerIRQs(plan.RTTarget, irqCPU)
		if err != nil {
			t.Fatalf("%s: %v", tag, err)
		}
		fmt.Printf("RT NOTE %s: %s\n", tag, note)
		time.Sleep(1200 * time.Millisecond)
		run(tag, port, srv, nil)
		if err := port.Close(); err != nil {
			t.Errorf("%s: close: %v", tag, err)
		}
	}
}

func probeName(p string) string {
	if p == "" {
		return ProbeCyclictest
	}
	return p
}

func topHalfName(p *driver.Port) string {
	if p == nil {
		return "none"
	}
	return p.TopHalf().String()
}
