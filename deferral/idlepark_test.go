package deferral

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// voluntarySwitchesOf reads a thread's voluntary context switches: each is
// one time it slept and was woken.
func voluntarySwitchesOf(t *testing.T, tid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status", tid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no voluntary_ctxt_switches in thread %d's status", tid)
	return 0
}

// TestIdleTopHalfSleeps: a top half with no interrupt stays asleep. Its raw
// epoll_wait keeps its P, so unless it parks in the poller (idlepark_linux.go)
// the runtime's sysmon signals it about every 10 ms to preempt it, and each
// signal wakes it: about 100 wake-ups a second on the real-time task's CPU.
func TestIdleTopHalfSleeps(t *testing.T) {
	c, err := NewCPU(CPUOptions{CPU: -1, Name: "idle"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	efd, err := newEventfd()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	var irqs atomic.Int64
	a, err := c.RequestIRQ(IRQ{Fd: efd}, func() IRQReturn { irqs.Add(1); return IRQHandled }, "idle")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Free()
	time.Sleep(100 * time.Millisecond) // sysmon backs off to 10 ms when idle
	const window = time.Second
	before := voluntarySwitchesOf(t, c.TID())
	time.Sleep(window)
	woke := voluntarySwitchesOf(t, c.TID()) - before
	t.Logf("idle top half woke %d times in %v", woke, window)
	if woke > 5 {
		t.Fatalf("an idle top half woke %d times in %v; want none (sleeps cut short by sysmon's preemption signal?)", woke, window)
	}
	// Parked, it still takes the next interrupt, each time.
	for i := int64(1); i <= 3; i++ {
		eventfdSignal(efd)
		for end := time.Now().Add(2 * time.Second); irqs.Load() < i; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("interrupt %d after an idle stretch not handled within 2s", i)
			}
		}
		time.Sleep(3 * IdleParkAfter) // parks again
	}
}
