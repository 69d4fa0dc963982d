package deferral

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/internal/osthread"
	"github.com/uiodrv/uiodrv/rt"
)

func TestCPUThreadAttributes(t *testing.T) {
	c := newCPU(t, lastCore())
	pol, prio, _, err := rt.ThreadSched(c.TID())
	if err != nil {
		t.Fatal(err)
	}
	if pol != unix.SCHED_FIFO || prio != rtPrio {
		t.Errorf("top half policy %d prio %d, want SCHED_FIFO %d", pol, prio, rtPrio)
	}
	pol, _, _, _ = rt.ThreadSched(c.KsoftirqdTID())
	if pol != unix.SCHED_NORMAL {
		t.Errorf("ksoftirqd policy %d, want SCHED_OTHER", pol)
	}
	for _, tid := range []int{c.TID(), c.KsoftirqdTID()} {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &set); err != nil {
			t.Fatal(err)
		}
		if set.Count() != 1 || !set.IsSet(lastCore()) {
			t.Errorf("tid %d affinity count %d, want only core %d", tid, set.Count(), lastCore())
		}
	}
	if n, _ := rt.ThreadName(c.KsoftirqdTID()); n[:10] != "ksoftirqd/" {
		t.Errorf("ksoftirqd name %q", n)
	}
}

func TestCPURTPrioOutOfRange(t *testing.T) {
	if _, err := NewCPU(CPUOptions{CPU: 0, RTPrio: 100}); err == nil {
		t.Fatal("priority 100 accepted")
	}
	if _, err := NewCPU(CPUOptions{CPU: rt.NumCPU()}); err == nil {
		t.Fatal("a core beyond the machine accepted")
	}
}

// Without CAP_SYS_NICE (dropped here from one throw-away thread's effective
// set: capabilities are per thread) and with RLIMIT_RTPRIO 0, asking for
// SCHED_FIFO fails with rt.ErrRTNotPermitted rather than falling back.
func TestRTNotPermittedIsError(t *testing.T) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_RTPRIO, &rl); err != nil || rl.Cur >= 50 {
		t.Skipf("RLIMIT_RTPRIO %d allows SCHED_FIFO 50 without CAP_SYS_NICE", rl.Cur)
	}
	errc := make(chan error, 1)
	osthread.Go(func() {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- fmt.Errorf("capget: %w", err)
			return
		}
		data[0].Effective &^= 1 << unix.CAP_SYS_NICE
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- fmt.Errorf("capset: %w", err)
			return
		}
		errc <- rt.SetThreadSched(0, rt.FIFO(50))
	})
	err := <-errc
	if !errors.Is(err, rt.ErrRTNotPermitted) {
		t.Fatalf("got %v, want rt.ErrRTNotPermitted", err)
	}
	t.Log(err)
}

func TestBusyPoller(t *testing.T) {
	var polls, cpu atomic.Int64
	p, err := NewBusyPoller(lastCore(), "t", 0, func(budget int) int {
		polls.Add(1)
		cpu.Store(int64(rt.CurrentCPU()))
		if budget != NAPIPollWeight {
			panic("budget")
		}
		return 0
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "polls without any interrupt", func() bool { return polls.Load() > 1000 })
	if int(cpu.Load()) != lastCore() {
		t.Errorf("polled on cpu %d", cpu.Load())
	}
	p.Close()
	p.Close()
	n := polls.Load()
	settle()
	if polls.Load() != n || p.Polls() != uint64(n) || p.Empty() != uint64(n) {
		t.Errorf("polls %d -> %d after Close (Polls %d Empty %d)", n, polls.Load(), p.Polls(), p.Empty())
	}
}

// Pending softirqs run on the top-half thread after the handler, lowest first.
func TestSoftirqRunsAfterHandlerLowestFirst(t *testing.T) {
	c := newCPU(t, lastCore())
	var log logger
	for _, nr := range []Softirq{TimerSoftirq, NetTXSoftirq, BlockSoftirq, RCUSoftirq} {
		if err := c.OpenSoftirq(nr, func() {
			log.add(fmt.Sprintf("%v tid-ok=%v cpu=%d", nr, gettid() == c.TID(), rt.CurrentCPU()))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.OpenSoftirq(TimerSoftirq, func() {}); err == nil {
		t.Error("second OpenSoftirq of TIMER succeeded")
	}
	fd := newEvent(t)
	_, err := c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn {
		for _, nr := range []Softirq{RCUSoftirq, BlockSoftirq, TimerSoftirq, NetTXSoftirq} {
			c.RaiseSoftirq(nr)
		}
		log.add("handler")
		return IRQHandled
	}, "order")
	if err != nil {
		t.Fatal(err)
	}
	fire(fd)
	waitFor(t, "softirqs", func() bool { return len(log.get()) == 5 })
	core := lastCore()
	want := []string{"handler"}
	for _, nr := range []Softirq{TimerSoftirq, NetTXSoftirq, BlockSoftirq, RCUSoftirq} {
		want = append(want, fmt.Sprintf("%v tid-ok=true cpu=%d", nr, core))
	}
	if got := log.get(); !slices.Equal(got, want) {
		t.Errorf("log\n got %q\nwant %q", got, want)
	}
}

// A softirq raised outside interrupt context runs in ksoftirqd.
func TestSoftirqRaisedOutsideIRQRunsInKsoftirqd(t *testing.T) {
	c := newCPU(t, lastCore())
	var tid atomic.Int64
	c.OpenSoftirq(BlockSoftirq, func() { tid.Store(int64(gettid())) })
	c.RaiseSoftirq(BlockSoftirq)
	waitFor(t, "softirq", func() bool { return tid.Load() != 0 })
	if int(tid.Load()) != c.KsoftirqdTID() {
		t.Errorf("ran on tid %d, want ksoftirqd %d", tid.Load(), c.KsoftirqdTID())
	}
}

// A softirq that keeps raising itself gets at most MaxSoftirqRestart passes
// on the top half per interrupt; the rest runs in ksoftirqd.
func TestSoftirqRestartBoundPasses(t *testing.T) {
	c := newCPU(t, lastCore())
	var top, ksd atomic.Int64
	const total = 40
	c.OpenSoftirq(TimerSoftirq, func() {
		switch gettid() {
		case c.TID():
			top.Add(1)
		case c.KsoftirqdTID():
			ksd.Add(1)
		}
		if top.Load()+ksd.Load() < total {
			c.RaiseSoftirq(TimerSoftirq)
		}
	})
	fd := newEvent(t)
	c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn { c.RaiseSoftirq(TimerSoftirq); return IRQHandled }, "restart")
	fire(fd)
	waitFor(t, "all runs", func() bool { return top.Load()+ksd.Load() == total })
	if top.Load() > MaxSoftirqRestart {
		t.Errorf("%d passes on the top half, want <= %d", top.Load(), MaxSoftirqRestart)
	}
	if ksd.Load() < total-MaxSoftirqRestart {
		t.Errorf("%d runs in ksoftirqd, want >= %d", ksd.Load(), total-MaxSoftirqRestart)
	}
	if c.Stats().Deferred == 0 {
		t.Error("Deferred not counted")
	}
}

// ... and at most MaxSoftirqTime (2 ms) of them.
func TestSoftirqRestartBoundTime(t *testing.T) {
	c := newCPU(t, lastCore())
	var top, all atomic.Int64
	c.OpenSoftirq(TimerSoftirq, func() {
		if gettid() == c.TID() {
			top.Add(1)
		}
		for s := time.Now(); time.Since(s) < time.Millisecond; {
		}
		if all.Add(1) < 8 {
			c.RaiseSoftirq(TimerSoftirq)
		}
	})
	fd := newEvent(t)
	c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn { c.RaiseSoftirq(TimerSoftirq); return IRQHandled }, "time")
	fire(fd)
	waitFor(t, "all runs", func() bool { return all.Load() == 8 })
	// 1 ms each: the pass that ends past 2 ms is the last, i.e. 2 (3 if a pass was shorter than its spin... never).
	if top.Load() > 2 {
		t.Errorf("%d 1ms-passes on the top half, want <= 2", top.Load())
	}
}

func TestCheckAtomicCountsSleeps(t *testing.T) {
	c := newCPU(t, lastCore(), func(o *CPUOptions) { o.CheckAtomic = true })
	var sleep atomic.Bool
	var runs atomic.Int64
	c.OpenSoftirq(BlockSoftirq, func() {
		if sleep.Load() {
			time.Sleep(time.Millisecond)
		}
		runs.Add(1)
	})
	fd := newEvent(t)
	c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn { c.RaiseSoftirq(BlockSoftirq); return IRQHandled }, "atomic")
	for i := 1; i <= 20; i++ {
		fire(fd)
		waitFor(t, "run", func() bool { return runs.Load() == int64(i) })
	}
	if n := c.AtomicSleeps(); n > 2 { // a rare futex wait of the runtime is tolerated
		t.Errorf("%d sleeps counted for handlers that do not sleep", n)
	}
	base := c.AtomicSleeps()
	sleep.Store(true)
	fire(fd)
	// The count is taken after the action returns: wait for it, not for runs.
	waitFor(t, "the sleep to be counted", func() bool { return c.AtomicSleeps() > base })
}
