package rt

import (
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// threadMasks reads the CPU mask of every thread of the process.
func threadMasks(t *testing.T) map[int]unix.CPUSet {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]unix.CPUSet{}
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		var s unix.CPUSet
		if unix.SchedGetaffinity(tid, &s) == nil {
			out[tid] = s
		}
	}
	return out
}

// TestHousekeep: the process's unpinned threads move to the housekeeping
// CPU, a thread pinned to another CPU stays, a bad CPU moves nothing.
func TestHousekeep(t *testing.T) {
	if NumCPU() < 2 {
		t.Skip("needs 2 CPUs")
	}
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil || all.Count() < 2 {
		t.Skipf("process mask %v: needs 2 CPUs", all)
	}
	defer func() { // give every thread its mask back for the other tests
		for tid := range threadMasks(t) {
			_ = unix.SchedSetaffinity(tid, &all)
		}
	}()
	pinned := make(chan int)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var zero unix.CPUSet
		zero.Set(0)
		if err := unix.SchedSetaffinity(0, &zero); err != nil {
			pinned <- -1
			return
		}
		pinned <- unix.Gettid()
		<-release
		_ = unix.SchedSetaffinity(0, &all)
	}()
	tid := <-pinned
	defer close(release)
	if tid < 0 {
		t.Fatal("could not pin a thread to CPU 0")
	}
	last := NumCPU() - 1
	// Other tests of the package may have left threads pinned: judge each
	// thread against its own mask before the call.
	before := threadMasks(t)
	if _, err := Housekeep([]int{last + 1}); err == nil {
		t.Fatal("a CPU that does not exist was accepted")
	}
	for id, m := range threadMasks(t) {
		if b, ok := before[id]; ok && m != b {
			t.Fatalf("refused call moved thread %d from %v to %v", id, b, m)
		}
	}
	moved, err := Housekeep([]int{last})
	if err != nil {
		t.Fatal(err)
	}
	var want unix.CPUSet
	want.Set(last)
	masks := threadMasks(t)
	if m := masks[tid]; m.Count() != 1 || !m.IsSet(0) {
		t.Fatalf("the pinned thread moved: %v", m)
	}
	unpinned := 0
	for id, b := range before {
		m, ok := masks[id]
		switch {
		case !ok: // exited meanwhile
		case b.Count() < 2 && m != b:
			t.Fatalf("thread %d pinned to %v was moved to %v", id, b, m)
		case b.Count() >= 2 && m != want:
			t.Fatalf("unpinned thread %d left on %v, want CPU %d only (%d moved)", id, m, last, moved)
		case b.Count() >= 2:
			unpinned++
		}
	}
	if moved < unpinned || unpinned == 0 {
		t.Fatalf("moved %d threads, %d were unpinned", moved, unpinned)
	}
	if again, err := Housekeep([]int{last}); err != nil || again != 0 {
		t.Fatalf("second call moved %d (%v), want 0", again, err)
	}
}
