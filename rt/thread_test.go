package rt

import (
	"errors"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// TestStartThread: a started thread carries its name, pin and class, counts
// in LockedThreads while it runs and not after; a class the kernel would
// refuse leaves no thread behind.
func TestStartThread(t *testing.T) {
	base := LockedThreads()
	release := make(chan struct{})
	type seen struct {
		mask unix.CPUSet
		err  error
	}
	got := make(chan seen, 1)
	tid, err := StartThread(ThreadAttrs{Name: "rt-start-test", CPU: 0}, func() {
		var s seen
		s.err = unix.SchedGetaffinity(0, &s.mask)
		got <- s
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.err != nil || s.mask.Count() != 1 || !s.mask.IsSet(0) {
		t.Errorf("thread mask %v (%v), want CPU 0 alone", s.mask, s.err)
	}
	if name, err := ThreadName(tid); err != nil || name != "rt-start-test" {
		t.Errorf("thread name %q, %v", name, err)
	}
	if c, err := ThreadSchedOf(tid); err != nil || c != (Sched{Policy: PolicyOther}) {
		t.Errorf("thread class %v, %v; want other (the zero Sched)", c, err)
	}
	if n := LockedThreads() - base; n != 1 {
		t.Errorf("LockedThreads +%d while running, want +1", n)
	}
	close(release)
	for end := time.Now().Add(5 * time.Second); LockedThreads() != base; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("LockedThreads %d after the thread ended, want %d", LockedThreads(), base)
		}
	}
	ran := false
	if _, err := StartThread(ThreadAttrs{CPU: -1, Sched: FIFO(100)}, func() { ran = true }); !errors.Is(err, ErrSchedInvalid) {
		t.Errorf("FIFO 100: %v, want ErrSchedInvalid", err)
	}
	if ran || LockedThreads() != base {
		t.Errorf("a refused thread ran (%v) or stayed counted (%d)", ran, LockedThreads()-base)
	}
}
