package deferral

import (
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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

// TestDeadlineThreadedAndWorkqueue runs the threaded and workqueue bottom
// halves under SCHED_DEADLINE and checks, from the kernel, that their threads
// got it (sched_getattr and /proc/self/task/TID/stat's policy field), and
// that they still run their work.
func TestDeadlineThreadedAndWorkqueue(t *testing.T) {
	requireDeadline(t)
	c := newCPU(t, 0)
	for _, mode := range []Mode{ModeThreaded, ModeWorkqueue} {
		var tid, runs atomic.Int64
		e, err := NewExecutor(ExecutorOptions{Mode: mode, CPU: c, Sched: dl200, Name: "dl", Poll: func(int) int {
			tid.Store(int64(gettid()))
			runs.Add(1)
			return 0
		}})
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		for range 3 {
			before := runs.Load()
			if err := c.exec(e.Schedule); err != nil {
				t.Fatal(err)
			}
			waitFor(t, mode.String()+" run", func() bool { return runs.Load() > before })
		}
		got, err := ThreadSchedOf(int(tid.Load()))
		if err != nil || got != dl200 {
			t.Errorf("%v: bottom-half thread sched %v, %v; want %v", mode, got, err, dl200)
		}
		if pol := statPolicy(t, int(tid.Load())); pol != unix.SCHED_DEADLINE {
			t.Errorf("%v: /proc stat policy %d, want %d", mode, pol, unix.SCHED_DEADLINE)
		}
		e.Close()
	}
}

// TestDeadlinePlaced: a deadline thread with a start CPU (@N) runs there
// first, with a mask spanning every CPU (placed, not pinned).
func TestDeadlinePlaced(t *testing.T) {
	requireDeadline(t)
	if numCPU() < 2 {
		t.Skip("one CPU: nothing to place")
	}
	s := dl200
	s.Start = lastCore() + 1
	type res struct {
		cpu  int
		mask unix.CPUSet
		err  error
	}
	ch := make(chan res)
	osthread.Go(func() {
		var r res
		if r.err = pinThread(0, 0); r.err == nil { // start elsewhere
			r.err = configureThread(threadAttrs{cpu: -1, sched: s})
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
	if r.cpu != lastCore() || r.mask.Count() != all.Count() {
		t.Errorf("placed deadline thread on cpu %d with %d CPUs in its mask; want cpu %d, %d CPUs", r.cpu, r.mask.Count(),
			lastCore(), all.Count())
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
	if numCPU() > 1 {
		// Pinned first, then deadline: EPERM, the restricted-affinity case.
		err := run(func() error {
			if err := pinThread(0, 0); err != nil {
				return err
			}
			return applySched(0, dl200)
		})
		if !errors.Is(err, ErrDeadlineAffinity) || !errors.Is(err, unix.EPERM) {
			t.Errorf("deadline on a pinned thread: %v; want ErrDeadlineAffinity (EPERM)", err)
		}
		t.Logf("deadline on a thread pinned to CPU 0 of %d: %v", numCPU(), err)
		// Deadline first, then pinned: EBUSY from sched_setaffinity.
		err = run(func() error {
			if err := configureThread(threadAttrs{cpu: 0, sched: dl200}); err != nil {
				return err
			}
			return pinThread(0, 0)
		})
		if !errors.Is(err, unix.EBUSY) || !errors.Is(err, ErrDeadlineAffinity) {
			t.Errorf("pinning a deadline thread: %v; want ErrDeadlineAffinity (EBUSY)", err)
		}
		t.Logf("pinning a deadline thread to CPU 0: %v", err)
	}
	// Admission control: more than the root domain holds (CPUs x 95%).
	huge := Deadline(990*time.Microsecond, time.Millisecond, time.Millisecond)
	err := ProbeSched(huge, -1, numCPU()+1)
	if !errors.Is(err, ErrDeadlineBusy) || !errors.Is(err, unix.EBUSY) {
		t.Errorf("ProbeSched over the bandwidth: %v; want ErrDeadlineBusy (EBUSY)", err)
	}
	t.Logf("%d threads at %v: %v", numCPU()+1, huge, err)
	// The probe gives everything back: the same request fits again and again.
	for range 3 {
		if err := ProbeSched(dl200, 0, 2); err != nil {
			t.Fatalf("ProbeSched %v: %v", dl200, err)
		}
	}
	if err := ProbeSched(FIFO(10), 0, 1); err != nil {
		t.Errorf("ProbeSched fifo: %v", err)
	}
	if _, err := NewExecutor(ExecutorOptions{Mode: ModeTasklet, CPU: newCPU(t, 0), Sched: dl200, Poll: func(int) int { return 0 }}); err == nil {
		t.Errorf("Sched accepted for a tasklet")
	}
}

// statPolicy reads field 41 (policy) of /proc/self/task/TID/stat.
func statPolicy(t *testing.T, tid int) int {
	t.Helper()
	pol, _, err := procStatSched(0, tid)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// TestLockedThreadsCount checks the count SizeGOMAXPROCS sizes from: a CPU
// locks two threads, a threaded executor one more, and all are given back.
func TestLockedThreadsCount(t *testing.T) {
	base := LockedThreads()
	c, err := NewCPU(CPUOptions{CPU: 0, Name: "count"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewExecutor(ExecutorOptions{Mode: ModeThreaded, CPU: c, ThreadPrio: -1, Poll: func(int) int { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if got := LockedThreads() - base; got != 3 {
		t.Errorf("locked threads after a CPU and a threaded executor: +%d, want +3", got)
	}
	prev, now := SizeGOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	if want := runtime.NumCPU() + LockedThreads() + 1; now != want || runtime.GOMAXPROCS(0) != want {
		t.Errorf("SizeGOMAXPROCS(1) = %d (GOMAXPROCS %d), want %d", now, runtime.GOMAXPROCS(0), want)
	}
	e.Close()
	c.Close()
	waitFor(t, "threads to exit", func() bool { return LockedThreads() == base })
}

func TestFitUnits(t *testing.T) {
	for _, c := range []struct {
		left, per int64
		max, want int
	}{
		{200_000, 50_000, 64, 4}, {200_000, 1_000, 64, 64}, {10_000, 50_000, 64, 1}, {-5, 50_000, 64, 1}, {100, 1, 8, 8},
	} {
		if got := fitUnits(c.left, c.per, c.max); got != c.want {
			t.Errorf("fitUnits(%d, %d, %d) = %d, want %d", c.left, c.per, c.max, got, c.want)
		}
	}
}

// TestDeadlineBudgetSizesPolls runs a threaded deadline bottom half that is
// never drained: its polls must shrink to what fits in the runtime (50 µs
// units, 200 µs runtime: about 4), not stay at the weight of 64.
func TestDeadlineBudgetSizesPolls(t *testing.T) {
	requireDeadline(t)
	for _, shorten := range []bool{false, true} {
		dlShorten = shorten
		c := newCPU(t, 0)
		var small, polls atomic.Int64
		spin := func(d time.Duration) {
			for end := time.Now().Add(d); time.Now().Before(end); {
			}
		}
		var stop atomic.Bool
		_, _, y0 := DeadlineBudgetStats()
		e, err := NewExecutor(ExecutorOptions{Mode: ModeThreaded, CPU: c, Sched: dl200, Name: "budget", Poll: func(budget int) int {
			if stop.Load() {
				return 0
			}
			polls.Add(1)
			if budget < NAPIPollWeight {
				small.Add(1)
			}
			spin(time.Duration(budget) * 5 * time.Microsecond)
			return budget
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.exec(e.Schedule); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		stop.Store(true)
		e.Close()
		_, _, y1 := DeadlineBudgetStats()
		p, s := polls.Load(), small.Load()
		switch {
		case p < 10:
			t.Errorf("shorten %v: %d polls in 300 ms", shorten, p)
		case shorten && s < p/2:
			t.Errorf("shorten: %d polls, %d of them cut below the full weight: the polls were not sized to the runtime", p, s)
		case !shorten && s > 1:
			t.Errorf("%d polls, %d of them cut below the full weight: the default must keep it", p, s)
		case y1 == y0:
			t.Errorf("shorten %v: the bottom half never yielded its instance", shorten)
		}
		t.Logf("shorten %v: %d polls, %d short, %d yields", shorten, p, s, y1-y0)
	}
	dlShorten = false
}

// TestNextPerUnit: the estimate follows a cheaper poll at once and an
// expensive one (a descheduled vCPU charged to the poll) by 1/16 only, so
// one stall does not size the next polls down to a single unit.
func TestNextPerUnit(t *testing.T) {
	e := nextPerUnit(0, 1000)
	if e != 1000 {
		t.Fatalf("first estimate %d, want 1000", e)
	}
	if e = nextPerUnit(e, 3_000_000); e > 1000+3_000_000/16 {
		t.Fatalf("after a 3 ms stall: %d ns per unit, want at most %d", e, 1000+3_000_000/16)
	}
	if fitUnits(200_000, nextPerUnit(1000, 3_000_000), 64) < 1 {
		t.Fatal("no unit fits")
	}
	if e = nextPerUnit(e, 500); e != 500 {
		t.Fatalf("after a cheaper poll: %d, want 500", e)
	}
	if nextPerUnit(0, 0) != 1 {
		t.Fatal("zero cost: want the floor of 1 ns")
	}
}

// TestCPUTopHalfSched: a CPU's top half takes a scheduling class instead of
// an RT priority (the bottom half's, so that nothing runs above it), and
// still takes interrupts; contradictory options are refused before any
// thread starts.
func TestCPUTopHalfSched(t *testing.T) {
	if _, err := NewCPU(CPUOptions{CPU: 0, RTPrio: 90, Sched: FIFO(50)}); err == nil {
		t.Error("RTPrio and Sched together accepted")
	}
	if _, err := NewCPU(CPUOptions{CPU: 0, Sched: dl200}); !errors.Is(err, ErrDeadlineAffinity) {
		t.Errorf("pinned deadline top half: %v; want ErrDeadlineAffinity", err)
	}
	requireDeadline(t)
	for _, s := range []Sched{FIFO(50), dl200} {
		cpu := 0
		if s.Policy == PolicyDeadline {
			cpu = -1
		}
		c, err := NewCPU(CPUOptions{CPU: cpu, Sched: s, Name: "ths"})
		if err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		got, err := ThreadSchedOf(c.TID())
		if err != nil || got != s {
			t.Errorf("top half sched %v, %v; want %v", got, err, s)
		}
		fd, err := newEventfd()
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		a, err := c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn { n.Add(1); return IRQHandled }, "ths")
		if err != nil {
			t.Fatal(err)
		}
		one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
		if _, err := unix.Write(fd, one); err != nil {
			t.Fatal(err)
		}
		waitFor(t, s.String()+" interrupt", func() bool { return n.Load() > 0 })
		a.Free()
		c.Close()
		unix.Close(fd)
	}
}

func TestBottomHalfSched(t *testing.T) {
	for _, c := range []struct {
		mode Mode
		s    Sched
		prio int
		want Sched
	}{
		{ModeThreaded, Sched{}, 0, FIFO(DefaultIRQThreadPrio)},
		{ModeThreaded, Sched{}, 30, FIFO(30)},
		{ModeThreaded, Sched{}, -1, Sched{Policy: PolicyOther}},
		{ModeThreaded, dl200, 0, dl200},
		{ModeWorkqueue, Sched{}, 0, Sched{Policy: PolicyOther, Nice: -20}},
		{ModeWorkqueue, dl200, 0, dl200},
		{ModeTasklet, Sched{}, 0, Sched{}},
	} {
		if got := BottomHalfSched(c.mode, c.s, c.prio); got != c.want {
			t.Errorf("BottomHalfSched(%v, %v, %d) = %v, want %v", c.mode, c.s, c.prio, got, c.want)
		}
	}
}
