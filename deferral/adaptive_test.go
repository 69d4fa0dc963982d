package deferral

import (
	"sync"
	"testing"
	"time"
)

// script is a Poll that returns its results in order (then 0), records the
// Reenable calls between them, and signals when it has run out.
type script struct {
	mu       sync.Mutex
	results  []int
	i        int
	log      []string
	rearmed  chan struct{}
	gapUntil time.Time
}

func (s *script) poll(int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if s.i < len(s.results) {
		n = s.results[s.i]
		s.i++
	}
	if n > 0 {
		s.log = append(s.log, "work")
	} else {
		s.log = append(s.log, "empty")
	}
	return n
}

func (s *script) reenable() {
	s.mu.Lock()
	s.log = append(s.log, "rearm")
	s.mu.Unlock()
	s.rearmed <- struct{}{}
}

func (s *script) trace() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

func newAdaptive(t *testing.T, s *script, o ExecutorOptions) Executor {
	t.Helper()
	o.Mode, o.CPU, o.Poll, o.Reenable = ModeAdaptive, newCPU(t, lastCore()), s.poll, s.reenable
	e, err := NewExecutor(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func waitRearm(t *testing.T, s *script) {
	t.Helper()
	select {
	case <-s.rearmed:
	case <-time.After(5 * time.Second):
		t.Fatalf("no re-arm; trace %v", s.trace())
	}
}

// TestAdaptiveSuspendsWhileWorkFlows: one interrupt, then polls back to back
// while they find work (interrupts suspended, no Schedule needed), a gap of
// one empty poll that does not re-arm (napi_defer_hard_irqs 2), more work,
// and the re-arm only when 2 x 200 µs have passed since the last work: an
// empty poll at once, one 200 µs later and one at the deadline. The clock is
// a fake whose waits end on time.
func TestAdaptiveSuspendsWhileWorkFlows(t *testing.T) {
	s := &script{results: []int{5, 64, 64, 3, 0, 7, 1}, rearmed: make(chan struct{}, 4)}
	e := newFakeAdaptive(t, &fakeClock{}, s.poll, s.reenable, ExecutorOptions{DeferHardIRQs: 2, FlushTimeout: 200 * time.Microsecond})
	e.Schedule()
	waitRearm(t, s)
	want := []string{"work", "work", "work", "work", "empty", "work", "work", "empty", "empty", "empty", "rearm"}
	got := s.trace()
	if len(got) != len(want) {
		t.Fatalf("trace %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("trace %v, want %v", got, want)
		}
	}
	st, ok := AdaptiveStatsOf(e)
	if !ok || st.Wakeups != 1 || st.Rearms != 1 || st.EmptyPolls != 4 || st.Polls != 10 {
		t.Fatalf("stats %+v", st)
	}
	// Quiet again: the next interrupt starts a new run.
	s.mu.Lock()
	s.results = append(s.results, 2)
	s.mu.Unlock()
	e.Schedule()
	waitRearm(t, s)
	if st, _ := AdaptiveStatsOf(e); st.Wakeups != 2 || st.Rearms != 2 {
		t.Fatalf("after a second interrupt: %+v", st)
	}
}

// TestAdaptiveDeferralWaits: empty polls are FlushTimeout apart (a wait on
// the real clock, not a spin), so the re-arm comes no sooner than
// DeferHardIRQs x FlushTimeout after the work.
func TestAdaptiveDeferralWaits(t *testing.T) {
	s := &script{results: []int{1}, rearmed: make(chan struct{}, 1)}
	e := newAdaptive(t, s, ExecutorOptions{DeferHardIRQs: 3, FlushTimeout: 5 * time.Millisecond})
	start := time.Now()
	e.Schedule()
	waitRearm(t, s)
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Fatalf("re-armed after %v, want at least 3 x 5 ms of deferral", d)
	}
}

// TestAdaptiveSuspendTimeoutYields: a flood that never ends keeps interrupts
// off, but every IRQSuspendTimeout the thread yields its core for a
// FlushTimeout.
func TestAdaptiveSuspendTimeoutYields(t *testing.T) {
	var mu sync.Mutex
	polls := 0
	rearms := 0
	e, err := NewExecutor(ExecutorOptions{Mode: ModeAdaptive, CPU: newCPU(t, lastCore()),
		Poll:              func(int) int { mu.Lock(); polls++; mu.Unlock(); return 1 },
		Reenable:          func() { mu.Lock(); rearms++; mu.Unlock() },
		IRQSuspendTimeout: 2 * time.Millisecond, FlushTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.Schedule()
	time.Sleep(30 * time.Millisecond)
	st, _ := AdaptiveStatsOf(e)
	e.Close()
	mu.Lock()
	defer mu.Unlock()
	if st.Yields < 3 || st.Wakeups != 1 || polls < 100 {
		t.Fatalf("30 ms of flood: %+v, %d polls; want several yields, one wake-up", st, polls)
	}
	if rearms > 1 { // Close ends the run with one re-arm at most
		t.Fatalf("%d re-arms during a flood", rearms)
	}
}

func TestAdaptiveRefusesNegative(t *testing.T) {
	_, err := NewExecutor(ExecutorOptions{Mode: ModeAdaptive, CPU: newCPU(t, lastCore()), Poll: func(int) int { return 0 }, DeferHardIRQs: -1})
	if err == nil {
		t.Fatal("negative DeferHardIRQs accepted")
	}
}
