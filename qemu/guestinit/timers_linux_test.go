package guestinit

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

func allowedCPUs(t *testing.T) []int {
	var s unix.CPUSet
	if err := unix.SchedGetaffinity(0, &s); err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for c := 0; c < 1024; c++ {
		if s.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 {
		t.Skip("the timer check needs 2 CPUs")
	}
	return cpus
}

// TestCheckTimersLive: on a host whose timers work the check passes and
// leaves the calling thread's affinity as it was.
func TestCheckTimersLive(t *testing.T) {
	allowedCPUs(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after unix.CPUSet
	_ = unix.SchedGetaffinity(0, &before)
	if err := checkTimers(); err != nil {
		t.Fatal(err)
	}
	_ = unix.SchedGetaffinity(0, &after)
	if before != after {
		t.Errorf("affinity %v after the check, want %v", after, before)
	}
}

// TestCheckTimersDead: a CPU whose sleeps never return is named.
func TestCheckTimersDead(t *testing.T) {
	cpus := allowedCPUs(t)
	dead := cpus[len(cpus)-1]
	block := make(chan struct{})
	defer close(block)
	oldSleep, oldWait := pinnedSleep, timerWait
	defer func() { pinnedSleep, timerWait = oldSleep, oldWait }()
	live := pinnedSleep
	pinnedSleep = func(c int) {
		if c == dead {
			<-block
		}
		live(c)
	}
	timerWait = 200 * time.Millisecond
	err := checkTimers()
	if err == nil || !strings.Contains(err.Error(), "CPU "+strconv.Itoa(dead)+":") {
		t.Fatalf("checkTimers with CPU %d's timer dead = %v, want an error naming it", dead, err)
	}
}
