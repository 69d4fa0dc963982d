package bench

import (
	"runtime"
	"strings"
	"testing"
)

//go:noinline
func allocOutside(n int) {
	for range n {
		sink = append(sink, new([64]byte))
	}
}

// The sites are those of the marked repetitions only, every allocation
// counted, summed over the repetitions: what is allocated before, between
// and after them (at the process's rate, here every allocation) is not.
func TestPhaseSites(t *testing.T) {
	defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
	runtime.MemProfileRate = 1 // the outside is recorded too: it must not count
	m := &PhaseMarks{Sites: &PhaseSites{}}
	allocOutside(300)
	for rep := range 2 {
		m.Begin(MarkSeq(rep, false))
		m.Begin(MarkSeq(rep, false)) // a resent start mark
		m.Record(MarkSeq(rep, false), 0)
		allocSomething(250)
		m.Record(MarkSeq(rep, true), 1)
		if runtime.MemProfileRate != 1 {
			t.Fatalf("rate %d after the end mark: want the process's 1 back", runtime.MemProfileRate)
		}
		allocOutside(300)
	}
	sites := m.Sites.Sites(6)
	if len(sites) == 0 || !strings.HasPrefix(sites[0], "n=500 site=bench.allocSomething:") {
		t.Fatalf("sites %q: want allocSomething's 500 objects first", sites)
	}
	for _, s := range sites {
		if strings.Contains(s, "allocOutside") {
			t.Fatalf("site %q allocated outside the marks", s)
		}
	}
	objs, reps, over := m.Sites.Objects()
	c := m.Counts()
	if reps != 2 || over != 0 || objs < int64(c.Allocs) || objs > int64(c.Allocs)+8 {
		t.Fatalf("objects %d reps %d overflow %d: want 2 repetitions and the %d objects Mallocs counted (+ the marks' few)", objs, reps, over, c.Allocs)
	}
	if f := m.Sites.Fields(); !strings.Contains(f, " tput_site_reps=2 ") {
		t.Fatalf("fields %q", f)
	}
	t.Logf("objects %d, Mallocs %d; %q", objs, c.Allocs, sites)
	sink = nil
}

// At rate 0 outside, the marks turn the profile on for the repetition only.
func TestPhaseSitesRateOff(t *testing.T) {
	defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
	runtime.MemProfileRate = 0
	m := &PhaseMarks{Sites: &PhaseSites{}}
	allocOutside(100)
	m.Begin(MarkSeq(0, false))
	m.Record(MarkSeq(0, false), 0)
	allocSomething(100)
	m.Record(MarkSeq(0, true), 1)
	allocOutside(100)
	m.Begin(MarkSeq(1, false)) // publishes what the rate change recorded
	m.Record(MarkSeq(1, false), 1)
	m.Record(MarkSeq(1, true), 2)
	if runtime.MemProfileRate != 0 {
		t.Fatalf("rate %d: want 0 back", runtime.MemProfileRate)
	}
	sites := m.Sites.Sites(6)
	if len(sites) == 0 || !strings.HasPrefix(sites[0], "n=100 site=bench.allocSomething:") {
		t.Fatalf("sites %q", sites)
	}
	for _, s := range sites {
		if strings.Contains(s, "allocOutside") {
			t.Fatalf("site %q allocated outside the marks", s)
		}
	}
	t.Logf("%q", sites)
	sink = nil
}

func TestStackNamesRuntime(t *testing.T) {
	pc := make([]uintptr, 32)
	n := runtime.Callers(1, pc)
	s := stackNames(pc[:n], 2)
	if !strings.HasPrefix(s, "bench.TestStackNamesRuntime:") {
		t.Fatalf("%q", s)
	}
}
