package deferral

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is an adaptiveClock whose time moves only in sleep (and
// advance): each wait lasts what it asked for plus over, as a timer that
// fires late.
type fakeClock struct {
	t    atomic.Int64 // ns
	over time.Duration
}

func (c *fakeClock) setup()                {}
func (c *fakeClock) now() time.Duration    { return time.Duration(c.t.Load()) }
func (c *fakeClock) sleep(d time.Duration) { c.t.Add(int64(d + c.over)) }
func (c *fakeClock) advanceTo(t time.Duration) {
	if time.Duration(c.t.Load()) < t {
		c.t.Store(int64(t))
	}
}

// pacedSource is a receive ring fed one frame every period of clk's time,
// count frames in all. Its poll is the executor's Poll; its reenable lets
// the test "interrupt" again.
type pacedSource struct {
	clk      *fakeClock
	period   time.Duration
	count    int
	consumed atomic.Int64
	rearmed  chan struct{}
}

func (s *pacedSource) arrived() int {
	n := int(s.clk.now()/s.period) + 1 // frame k arrives at k x period
	return min(n, s.count)
}

func (s *pacedSource) poll(budget int) int {
	n := min(s.arrived()-int(s.consumed.Load()), budget)
	s.consumed.Add(int64(n))
	return n
}

func (s *pacedSource) reenable() { s.rearmed <- struct{}{} }

// drive plays the NIC's interrupt: after each re-arm it moves the clock to
// the next frame's arrival (if none waits) and schedules the executor, until
// every frame is consumed. It returns the number of interrupts.
func (s *pacedSource) drive(t *testing.T, e *adaptiveExec) int {
	t.Helper()
	irqs := 0
	for int(s.consumed.Load()) < s.count {
		if s.arrived() == int(s.consumed.Load()) {
			s.clk.advanceTo(time.Duration(s.consumed.Load()) * s.period)
		}
		irqs++
		e.Schedule()
		select {
		case <-s.rearmed:
		case <-time.After(10 * time.Second):
			t.Fatalf("no re-arm after %d interrupts; %d of %d frames consumed; stats %+v",
				irqs, s.consumed.Load(), s.count, e.Stats())
		}
	}
	return irqs
}

func newFakeAdaptive(t *testing.T, clk adaptiveClock, poll func(int) int, reenable func(), o ExecutorOptions) *adaptiveExec {
	t.Helper()
	o.Mode, o.CPU, o.Poll, o.Weight, o.Name = ModeAdaptive, newCPU(t, lastCore()), poll, NAPIPollWeight, "fake"
	e, err := newAdaptiveExecClock(o, reenable, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestAdaptiveLateWakeupsStillRearm: 1000 frames/s, and every FlushTimeout
// wait lasts a millisecond longer than asked (a Go timer under TCG). The
// wait then always finds the next frame; the hysteresis, on the clock, must
// still re-arm after each burst instead of polling through the whole stream
// (which a count of empty polls in a row does: one re-arm for 200 frames).
func TestAdaptiveLateWakeupsStillRearm(t *testing.T) {
	clk := &fakeClock{over: time.Millisecond}
	s := &pacedSource{clk: clk, period: time.Millisecond, count: 200, rearmed: make(chan struct{}, 1)}
	e := newFakeAdaptive(t, clk, s.poll, s.reenable, ExecutorOptions{})
	irqs := s.drive(t, e)
	st := e.Stats()
	// Each run: the interrupt's frame, one late wait that finds the next,
	// then the re-arm: about one interrupt per 2 frames.
	if irqs < s.count/3 || st.Rearms != uint64(irqs) || st.LateWork == 0 {
		t.Fatalf("%d frames at 1 ms, waits 1 ms late: %d interrupts, stats %+v; want about one re-arm per 2 frames",
			s.count, irqs, st)
	}
	t.Logf("%d frames: %d interrupts, stats %+v", s.count, irqs, st)
}

// TestAdaptiveOnTimeRearmsPerFrame: the same 1000 frames/s with waits that
// end on time (as clock_nanosleep's): one interrupt per frame, each
// followed by DeferHardIRQs x FlushTimeout of polling, as the kernel's NAPI
// with napi_defer_hard_irqs 2 and gro_flush_timeout 50 µs.
func TestAdaptiveOnTimeRearmsPerFrame(t *testing.T) {
	clk := &fakeClock{over: 2 * time.Microsecond}
	s := &pacedSource{clk: clk, period: time.Millisecond, count: 100, rearmed: make(chan struct{}, 1)}
	e := newFakeAdaptive(t, clk, s.poll, s.reenable, ExecutorOptions{})
	irqs := s.drive(t, e)
	st := e.Stats()
	if irqs != s.count || st.Rearms != uint64(s.count) || st.LateWork != 0 {
		t.Fatalf("%d frames: %d interrupts, stats %+v; want one each", s.count, irqs, st)
	}
	// Per frame: the work poll, an empty poll at once, one after 50 µs and
	// one at the 100 µs deadline.
	if st.EmptyPolls != 3*uint64(s.count) {
		t.Fatalf("stats %+v: want 3 empty polls per frame", st)
	}
}

// TestAdaptiveKeepsPollingUnderLoad: 50 000 frames/s (one per 20 µs, well
// inside the 100 µs deferral window): after the first interrupt the thread
// polls the whole stream without re-arming, waits included.
func TestAdaptiveKeepsPollingUnderLoad(t *testing.T) {
	clk := &fakeClock{over: 5 * time.Microsecond}
	s := &pacedSource{clk: clk, period: 20 * time.Microsecond, count: 5000, rearmed: make(chan struct{}, 1)}
	e := newFakeAdaptive(t, clk, s.poll, s.reenable, ExecutorOptions{})
	irqs := s.drive(t, e)
	if st := e.Stats(); irqs != 1 || st.Rearms != 1 || st.EmptyPolls < 1000 {
		t.Fatalf("%d frames at 50 kpps: %d interrupts, stats %+v; want one run", s.count, irqs, st)
	}
}

// TestAdaptiveRealClockLowRate: a source that receives a frame every 2 ms
// of real time and interrupts when armed; the executor runs on its real
// clock (clock_nanosleep). Nearly every frame must come by interrupt: the
// thread goes back to interrupts between frames.
func TestAdaptiveRealClockLowRate(t *testing.T) {
	var (
		mu      sync.Mutex
		pending int
		armed   = true // interrupts on until the first one
	)
	var x Executor
	poll := func(budget int) int {
		mu.Lock()
		defer mu.Unlock()
		n := min(pending, budget)
		pending -= n
		return n
	}
	reenable := func() {
		mu.Lock()
		armed = true
		irq := pending > 0 // a cause latched while masked interrupts at once
		if irq {
			armed = false
		}
		mu.Unlock()
		if irq {
			x.Schedule()
		}
	}
	e := newFakeAdaptive(t, hrSleeper{}, poll, reenable, ExecutorOptions{})
	x = e
	const frames = 100
	for i := 0; i < frames; i++ {
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		pending++
		irq := armed
		armed = false
		mu.Unlock()
		if irq {
			e.Schedule()
		}
	}
	time.Sleep(5 * time.Millisecond)
	st := e.Stats()
	if st.Rearms < frames/2 {
		t.Fatalf("%d frames 2 ms apart: stats %+v; want a re-arm for most frames", frames, st)
	}
	t.Logf("%d frames 2 ms apart: stats %+v", frames, st)
}

// TestHRSleepWaits: hrSleep never returns early.
func TestHRSleepWaits(t *testing.T) {
	for _, d := range []time.Duration{50 * time.Microsecond, 300 * time.Microsecond, 2 * time.Millisecond} {
		start := time.Now()
		hrSleep(d)
		if got := time.Since(start); got < d {
			t.Errorf("hrSleep(%v) returned after %v", d, got)
		}
	}
}

// TestAdaptiveRunAllocatesNothing: a run (work, empty polls, waits on the
// real clock, the re-arm) allocates nothing.
func TestAdaptiveRunAllocatesNothing(t *testing.T) {
	left := 0
	e := &adaptiveExec{clk: hrSleeper{}, weight: NAPIPollWeight, flush: 20 * time.Microsecond,
		window: 40 * time.Microsecond, suspend: DefaultIRQSuspendTimeout, reenable: func() {},
		poll: func(int) int {
			if left > 0 {
				left--
				return 64
			}
			return 0
		}}
	if a := testing.AllocsPerRun(50, func() { left = 3; e.run() }); a != 0 {
		t.Fatalf("%.1f allocations per run", a)
	}
	if a := testing.AllocsPerRun(50, func() { hrSleep(10 * time.Microsecond) }); a != 0 {
		t.Fatalf("hrSleep: %.1f allocations", a)
	}
}
