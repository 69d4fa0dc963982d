package rt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/internal/osthread"
)

func TestParseSched(t *testing.T) {
	ok := []struct {
		in   string
		want Sched
		str  string
	}{
		{"fifo:50", FIFO(50), "fifo:50"},
		{" FIFO:99 ", FIFO(99), "fifo:99"},
		{"deadline:200us/1ms", Deadline(200*time.Microsecond, time.Millisecond, time.Millisecond), "deadline:200µs/1ms"},
		{"deadline:200us/800us/1ms", Deadline(200*time.Microsecond, 800*time.Microsecond, time.Millisecond), "deadline:200µs/800µs/1ms"},
		{"deadline:1ms/1ms", Deadline(time.Millisecond, time.Millisecond, time.Millisecond), "deadline:1ms/1ms"},
		{"other", Sched{Policy: PolicyOther}, "other"},
		{"other:-5", Sched{Policy: PolicyOther, Nice: -5}, "other:-5"},
		{"default", Sched{}, "default"},
		{"deadline:200us/1ms@1", Sched{Policy: PolicyDeadline, Runtime: 200 * time.Microsecond, Deadline: time.Millisecond,
			Period: time.Millisecond, Start: 2}, "deadline:200µs/1ms@1"},
		{"deadline:200us/800us/1ms@0", Sched{Policy: PolicyDeadline, Runtime: 200 * time.Microsecond, Deadline: 800 * time.Microsecond,
			Period: time.Millisecond, Start: 1}, "deadline:200µs/800µs/1ms@0"},
	}
	for _, c := range ok {
		got, err := ParseSched(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSched(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if got.String() != c.str {
			t.Errorf("%q.String() = %q, want %q", c.in, got.String(), c.str)
		}
		back, err := ParseSched(got.String())
		if err != nil || back != got {
			t.Errorf("round trip of %q: %+v, %v", got.String(), back, err)
		}
	}
	bad := []string{"", "fifo", "fifo:0", "fifo:100", "fifo:x", "rr:5", "deadline", "deadline:1ms",
		"deadline:2ms/1ms", "deadline:200us/2ms/1ms", "deadline:300us/200us/1ms", "deadline:1ns/1ms",
		"deadline:10us/50us", "deadline:1s/5s", "deadline:200us/1ms/2ms/3ms", "deadline:abc/1ms", "other:30", "default:1",
		"deadline:200us/1ms@x", "deadline:200us/1ms@-1", "fifo:50@1", "deadline:200us@1/1ms"}
	for _, in := range bad {
		s, err := ParseSched(in)
		if err == nil {
			t.Errorf("ParseSched(%q) = %+v, want an error", in, s)
			continue
		}
		if !errors.Is(err, ErrSchedInvalid) || !strings.Contains(err.Error(), "deadline:RUNTIME/PERIOD") {
			t.Errorf("ParseSched(%q) error %q: want ErrSchedInvalid naming the valid forms", in, err)
		}
	}
	if b := Deadline(200*time.Microsecond, time.Millisecond, time.Millisecond).Bandwidth(); b != 0.2 {
		t.Errorf("Bandwidth = %v, want 0.2", b)
	}
}

func TestCPUList(t *testing.T) {
	for _, s := range []string{"0", "0-1", "0-3,6", "1,3,5-7"} {
		set, err := parseCPUList(s)
		if err != nil || cpuList(set) != s {
			t.Errorf("cpu list %q -> %q, %v", s, cpuList(set), err)
		}
	}
	a, _ := parseCPUList("0-1")
	b, _ := parseCPUList("0")
	if !subset(b, a) || subset(a, b) {
		t.Errorf("subset wrong")
	}
}

// requireDeadline skips when the process cannot use SCHED_DEADLINE at all
// (no CAP_SYS_NICE); every other refusal fails the test.
func requireDeadline(t *testing.T) {
	t.Helper()
	if !hasCapSysNice() {
		t.Skip("SCHED_DEADLINE needs CAP_SYS_NICE")
	}
}

var dl200 = Deadline(200*time.Microsecond, time.Millisecond, time.Millisecond)

// TestDeadlinePlaced: a deadline thread with a start CPU (@N) runs there
// first, with a mask spanning every CPU (placed, not pinned).
func TestDeadlinePlaced(t *testing.T) {
	requireDeadline(t)
	if NumCPU() < 2 {
		t.Skip("one CPU: nothing to place")
	}
	s := dl200
	s.Start = NumCPU() - 1 + 1
	type res struct {
		cpu  int
		mask unix.CPUSet
		err  error
	}
	ch := make(chan res)
	osthread.Go(func() {
		var r res
		if r.err = PinThread(0, 0); r.err == nil { // start elsewhere
			r.err = ConfigureThread(ThreadAttrs{CPU: -1, Sched: s})
		}
		r.cpu = CurrentCPU()
		_ = unix.SchedGetaffinity(0, &r.mask)
		ch <- r
	})
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	all := processCPUs()
	if r.cpu != NumCPU()-1 || r.mask.Count() != all.Count() {
		t.Errorf("placed deadline thread on cpu %d with %d CPUs in its mask; want cpu %d, %d CPUs", r.cpu, r.mask.Count(),
			NumCPU()-1, all.Count())
	}
}

// TestDeadlineErrors checks the kernel's refusals and their mapping.
func TestDeadlineErrors(t *testing.T) {
	requireDeadline(t)
	run := func(fn func() error) error {
		ch := make(chan error)
		osthread.Go(func() {
			ch <- fn()
		})
		return <-ch
	}
	if NumCPU() > 1 {
		// Pinned first, then deadline: EPERM, the restricted-affinity case.
		err := run(func() error {
			if err := PinThread(0, 0); err != nil {
				return err
			}
			return SetThreadSched(0, dl200)
		})
		if !errors.Is(err, ErrDeadlineAffinity) || !errors.Is(err, unix.EPERM) {
			t.Errorf("deadline on a pinned thread: %v; want ErrDeadlineAffinity (EPERM)", err)
		}
		t.Logf("deadline on a thread pinned to CPU 0 of %d: %v", NumCPU(), err)
		// Deadline first, then pinned: EBUSY from sched_setaffinity.
		err = run(func() error {
			if err := ConfigureThread(ThreadAttrs{CPU: 0, Sched: dl200}); err != nil {
				return err
			}
			return PinThread(0, 0)
		})
		if !errors.Is(err, unix.EBUSY) || !errors.Is(err, ErrDeadlineAffinity) {
			t.Errorf("pinning a deadline thread: %v; want ErrDeadlineAffinity (EBUSY)", err)
		}
		t.Logf("pinning a deadline thread to CPU 0: %v", err)
	}
	// Admission control: more than the root domain holds (CPUs x 95%).
	huge := Deadline(990*time.Microsecond, time.Millisecond, time.Millisecond)
	err := ProbeSched(huge, -1, NumCPU()+1)
	if !errors.Is(err, ErrDeadlineBusy) || !errors.Is(err, unix.EBUSY) {
		t.Errorf("ProbeSched over the bandwidth: %v; want ErrDeadlineBusy (EBUSY)", err)
	}
	t.Logf("%d threads at %v: %v", NumCPU()+1, huge, err)
	// The probe gives everything back: the same request fits again and again.
	for range 3 {
		if err := ProbeSched(dl200, 0, 2); err != nil {
			t.Fatalf("ProbeSched %v: %v", dl200, err)
		}
	}
	if err := ProbeSched(FIFO(10), 0, 1); err != nil {
		t.Errorf("ProbeSched fifo: %v", err)
	}
}
