package deferral

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/rt"
)

// rtPrio is the top-half priority the tests ask for.
const rtPrio = 80

// newCPU starts a CPU pinned to core and closes it at the end of the test.
// It skips only if SCHED_FIFO is not permitted.
func newCPU(t testing.TB, core int, opts ...func(*CPUOptions)) *CPU {
	t.Helper()
	o := CPUOptions{CPU: core, RTPrio: rtPrio, Name: "t" + strings.ReplaceAll(t.Name(), "/", "")}
	for _, f := range opts {
		f(&o)
	}
	c, err := NewCPU(o)
	if errors.Is(err, rt.ErrRTNotPermitted) {
		t.Skipf("SCHED_FIFO not permitted: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// lastCore is the highest core, 1 on this machine; tests pin to it and to 0.
func lastCore() int { return rt.NumCPU() - 1 }

// newEvent returns an eventfd closed at the end of the test.
func newEvent(t testing.TB) int {
	t.Helper()
	fd, err := newEventfd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// fire is a device raising its interrupt.
func fire(fd int) { eventfdSignal(fd) }

// waitFor polls cond until it holds or 10 s pass (generous: -race on 2 noisy cores).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// settle gives asynchronous machinery time to do what it should not do.
func settle() { time.Sleep(30 * time.Millisecond) }

// logger is an ordering log safe for concurrent use.
type logger struct {
	mu sync.Mutex
	s  []string
}

func (l *logger) add(s string) { l.mu.Lock(); l.s = append(l.s, s); l.mu.Unlock() }
func (l *logger) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.s...)
}

// gate blocks handlers until opened.
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate(t testing.TB) *gate {
	g := &gate{entered: make(chan struct{}, 100), open: make(chan struct{})}
	t.Cleanup(g.release) // a failing test must not leave a handler blocked
	return g
}
func (g *gate) wait() {
	g.entered <- struct{}{}
	<-g.open
}
func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// tidSet collects the TIDs of threads that ran something.
type tidSet struct{ m sync.Map }

func (s *tidSet) add() { s.m.Store(gettid(), true) }

// waitGone waits until none of the threads exists any more.
func (s *tidSet) waitGone(t *testing.T) {
	t.Helper()
	n := 0
	s.m.Range(func(k, _ any) bool { n++; return true })
	if n == 0 {
		t.Fatal("no thread recorded")
	}
	waitFor(t, "threads to exit", func() bool {
		alive := false
		s.m.Range(func(k, _ any) bool {
			if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", k.(int))); err == nil {
				alive = true
			}
			return !alive
		})
		return !alive
	})
}

// goroutinesSettle waits until the goroutine count is back to at most n.
func goroutinesSettle(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d > %d\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

func numGoroutine() int { return runtime.NumGoroutine() }

// waitLockedGone waits until no locked thread is left: rt.LockedThreads is
// the process's count, and an earlier test's thread still on its way out
// after its Close would otherwise be counted in a test's baseline and leave
// during the test. Every test here closes what it starts, so the count
// reaches 0.
func waitLockedGone(t testing.TB) {
	t.Helper()
	waitFor(t, "earlier tests' locked threads to exit", func() bool { return rt.LockedThreads() == 0 })
}
