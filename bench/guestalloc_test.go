package bench

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// Helpers that name allocation sites: allocSites compares two memory
// profiles (memRecords), frameNames names a stack. The lab's guest names the
// sites of its marked throughput repetitions with PhaseSites
// (phasesites.go).

// memRecords is the memory profile so far; the profile is published by
// garbage collections, two of which make it current.
func memRecords() []runtime.MemProfileRecord {
	runtime.GC()
	runtime.GC()
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs := make([]runtime.MemProfileRecord, n+64)
		m, ok := runtime.MemProfile(recs, true)
		if ok {
			return recs[:m]
		}
		n = m
	}
}

// allocSites are the k stacks that allocated most objects between two
// snapshots, as "n=<objects> site=<frames>" strings.
func allocSites(before, after []runtime.MemProfileRecord, k int) []string {
	base := map[[32]uintptr]int64{}
	for _, r := range before {
		base[r.Stack0] += r.AllocObjects
	}
	type site struct {
		n     int64
		stack []uintptr
	}
	var sites []site
	for _, r := range after {
		if d := r.AllocObjects - base[r.Stack0]; d > 0 {
			sites = append(sites, site{d, r.Stack()})
		}
	}
	slices.SortFunc(sites, func(a, b site) int { return int(b.n - a.n) })
	var out []string
	for _, s := range sites[:min(k, len(sites))] {
		out = append(out, fmt.Sprintf("n=%d site=%s", s.n, frameNames(s.stack, 4)))
	}
	return out
}

// frameNames names up to n frames of a stack, innermost first, skipping the
// runtime's own allocation frames.
func frameNames(stack []uintptr, n int) string {
	var names []string
	frames := runtime.CallersFrames(stack)
	for len(names) < n {
		f, more := frames.Next()
		if f.Function != "" && (len(names) > 0 || !strings.HasPrefix(f.Function, "runtime.")) {
			names = append(names, fmt.Sprintf("%s:%d", strings.TrimPrefix(f.Function, "github.com/uiodrv/uiodrv/"), f.Line))
		}
		if !more {
			break
		}
	}
	if len(names) == 0 && len(stack) > 0 { // the runtime's own
		if f, _ := runtime.CallersFrames(stack).Next(); f.Function != "" {
			names = append(names, fmt.Sprintf("%s:%d", f.Function, f.Line))
		}
	}
	return strings.Join(names, "<")
}

var sink []*[64]byte

//go:noinline
func allocSomething(n int) {
	for range n {
		sink = append(sink, new([64]byte))
	}
}

func TestAllocSites(t *testing.T) {
	defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
	runtime.MemProfileRate = 1
	before := memRecords()
	allocSomething(500)
	sites := allocSites(before, memRecords(), 4)
	if len(sites) == 0 || !strings.Contains(sites[0], "bench.allocSomething:") || !strings.HasPrefix(sites[0], "n=500 ") {
		t.Fatalf("sites %q: want allocSomething's 500 objects first", sites)
	}
	sink = nil
}
