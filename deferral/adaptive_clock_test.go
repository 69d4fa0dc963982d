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
// count frames in all; from frame fastFrom on (when non-zero), one every
// fastPeriod. Its poll is the executor's Poll; its reenable lets the test
// "interrupt" again.
type pacedSource struct {
	clk      *fakeClock
	period   time.Duration
	count    int
	consumed atomic.Int64
	rearmed  chan struct{}

	fastFrom   int
	fastPeriod time.Duration
}

// arrival is when frame k arrives.
func (s *pacedSource) arrival(k int) time.Duration {
	if s.fastFrom > 0 && k >= s.fastFrom {
		return time.Duration(s.fastFrom)*s.period + time.Duration(k-s.fastFrom)*s.fastPeriod
	}
	return time.Duration(k) * s.period
}

func (s *pacedSource) arrived() int {
	now := s.clk.now()
	var n int
	if s.fastFrom > 0 && now >= s.arrival(s.fastFrom) {
		n = s.fastFrom + int((now-s.arrival(s.fastFrom))/s.fastPeriod) + 1
	} else {
		n = int(now/s.period) + 1 // frame k arrives at k x period
	}
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
			s.clk.advanceTo(s.arrival(int(s.consumed.Load())))
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
	// The first runs: the interrupt's frame, one late wait that finds the
	// next, then the re-arm. Work found late does not count as a gap the
	// deferral bridged, so after AdaptiveQuietIRQs interrupts the runs
	// re-arm at their first empty poll: no wait, one interrupt per frame.
	if irqs < s.count/3 || st.Rearms != uint64(irqs) || st.LateWork == 0 || st.Waits > 2*AdaptiveQuietIRQs {
		t.Fatalf("%d frames at 1 ms, waits 1 ms late: %d interrupts, stats %+v; want a re-arm per frame or two, and waits only at first",
			s.count, irqs, st)
	}
	t.Logf("%d frames: %d interrupts, stats %+v", s.count, irqs, st)
}

// TestAdaptiveLightLoadRearmsAtOnce: 1000 and 5000 frames/s (gaps well
// beyond the 100 µs deferral window) with waits that end on time (as
// clock_nanosleep's): one interrupt per frame, as the kernel's NAPI. The
// first AdaptiveQuietIRQs frames get the full deferral (an empty poll at
// once, one after 50 µs and one at the 100 µs deadline: two timer
// wake-ups that find nothing); from then on the run re-arms at its first
// empty poll, with no wait: two polls per interrupt. Before the light-load
// hysteresis every frame cost 4 polls and 2 waits.
func TestAdaptiveLightLoadRearmsAtOnce(t *testing.T) {
	for _, period := range []time.Duration{time.Millisecond, 200 * time.Microsecond} {
		clk := &fakeClock{over: 2 * time.Microsecond}
		s := &pacedSource{clk: clk, period: period, count: 100, rearmed: make(chan struct{}, 1)}
		e := newFakeAdaptive(t, clk, s.poll, s.reenable, ExecutorOptions{})
		irqs := s.drive(t, e)
		st := e.Stats()
		if irqs != s.count || st.Rearms != uint64(s.count) || st.LateWork != 0 {
			t.Fatalf("%d frames %v apart: %d interrupts, stats %+v; want one each", s.count, period, irqs, st)
		}
		warm := uint64(AdaptiveQuietIRQs)
		if st.Waits != 2*warm || st.EmptyPolls != 3*warm+uint64(s.count)-warm ||
			st.QuickRearms != uint64(s.count)-warm || st.Polls != 4*warm+2*(uint64(s.count)-warm) {
			t.Fatalf("%d frames %v apart: stats %+v; want 2 waits for each of the first %d frames, then 2 polls and no wait per frame",
				s.count, period, st, warm)
		}
	}
}

// TestAdaptiveLightLoadResumesDeferral: 50 frames at 1 ms (the runs re-arm
// at once), then 5000 at 50 kpps. The first interrupt of the fast stream
// comes within the deferral window of the last work: the deferral is back,
// and the thread polls the stream through with interrupts off.
func TestAdaptiveLightLoadResumesDeferral(t *testing.T) {
	clk := &fakeClock{over: 5 * time.Microsecond}
	s := &pacedSource{clk: clk, period: time.Millisecond, count: 5050, rearmed: make(chan struct{}, 1),
		fastFrom: 50, fastPeriod: 20 * time.Microsecond}
	e := newFakeAdaptive(t, clk, s.poll, s.reenable, ExecutorOptions{})
	irqs := s.drive(t, e)
	st := e.Stats()
	if st.QuickRearms < 40 || irqs > 50+3 || st.Waits < 1000 {
		t.Fatalf("50 frames at 1 ms then 5000 at 20 µs: %d interrupts, stats %+v; want quick re-arms in the slow part, then one run for the stream",
			irqs, st)
	}
	t.Logf("%d interrupts, stats %+v", irqs, st)
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
