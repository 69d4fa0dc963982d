package bench

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// PhaseSites names every heap allocation made inside the marked throughput
// repetitions, with its stack: the sites of PhaseMarks' tput_allocs.
//
// The memory profile is exact for what it records only at
// runtime.MemProfileRate = 1, and it publishes an allocation only once a
// garbage collection's mark termination has passed it (runtime/mprof.go:
// mallocs count toward the next mark termination's snapshot; runtime.GC
// returns with the snapshot as of its own mark termination published). So:
//
//   - at the start mark, before the mark's query is answered (the host starts
//     the repetition's clock on that answer): MemProfileRate = 1, then two
//     runtime.GCs, then the profile S (everything allocated before the second
//     GC's mark termination);
//   - at the end mark, after PhaseMarks' end snapshot (the host has stopped
//     its clock): MemProfileRate back to what it was, runtime.GC, the
//     profile E.
//
// E - S is then every allocation between the two mark terminations: the
// repetition's, plus whatever the mark handling itself allocates in the two
// short windows (the second start GC's tail and the start query's reply; at
// the end, the first allocation of each P after the rate change, up to the
// end GC's mark termination), which PhaseMarks' Mallocs count shows
// (tput_site_objs against tput_allocs). No GC runs inside the repetition on behalf of the marks, and
// outside the marked windows the profile rate stays as the process set it
// (0 in the lab's guest: nothing else pays a stack walk per allocation, and a
// rate change records the next allocation of each P, which the next start's
// GC publishes into S, so that it never counts). Both profile buffers are
// allocated before the start GC, so that the snapshots allocate nothing
// inside the windows.
type PhaseSites struct {
	start, end []runtime.MemProfileRecord
	nStart     int
	started    bool
	prevRate   int
	objs       map[[32]uintptr]int64
	reps       int
	overflow   int // end snapshots that did not fit (their repetition is left out)
}

// begin is called at the start mark, before its query is answered.
func (p *PhaseSites) begin() {
	if !p.started { // a resent start mark keeps the rate it found first
		p.prevRate = runtime.MemProfileRate
	}
	runtime.MemProfileRate = 1
	for {
		// Two GCs: the first one's tail (its sweep wait Goscheds, which on a
		// locked thread hands the P to another M, created if none is idle)
		// allocates after its mark termination; the second publishes that
		// and finds the M idle.
		runtime.GC()
		runtime.GC()
		n, ok := runtime.MemProfile(p.start, true)
		if ok && len(p.end) >= n+1024 {
			p.nStart, p.started = n, true
			return
		}
		// Grow both (before the next GC, which publishes the growth into S).
		p.start = make([]runtime.MemProfileRecord, n+512)
		p.end = make([]runtime.MemProfileRecord, n+2048)
	}
}

// finish is called at the end mark, after PhaseMarks' end snapshot.
func (p *PhaseSites) finish() {
	if !p.started {
		return
	}
	p.started = false
	// The rate goes back before the GC, so that the GC's own allocations
	// before its mark termination are not recorded (but for the first one
	// of each P after the change, which the runtime records at any rate
	// change).
	runtime.MemProfileRate = p.prevRate
	runtime.GC()
	n, ok := runtime.MemProfile(p.end, true)
	if !ok {
		p.overflow++
		return
	}
	base := make(map[[32]uintptr]int64, p.nStart)
	for _, r := range p.start[:p.nStart] {
		base[r.Stack0] += r.AllocObjects
	}
	if p.objs == nil {
		p.objs = map[[32]uintptr]int64{}
	}
	for _, r := range p.end[:n] {
		base[r.Stack0] -= r.AllocObjects
	}
	for k, v := range base {
		if v < 0 {
			p.objs[k] -= v
		}
	}
	p.reps++
}

// Objects is the number of objects recorded over the finished repetitions,
// the repetitions and the end snapshots that overflowed.
func (p *PhaseSites) Objects() (objs int64, reps, overflow int) {
	for _, v := range p.objs {
		objs += v
	}
	return objs, p.reps, p.overflow
}

// Fields are the BENCH DONE fields tput_site_objs (objects recorded with
// their stacks over the repetitions), tput_site_reps and tput_site_overflow;
// empty when no repetition finished.
func (p *PhaseSites) Fields() string {
	objs, reps, over := p.Objects()
	if reps == 0 && over == 0 {
		return ""
	}
	return fmt.Sprintf(" tput_site_objs=%d tput_site_reps=%d tput_site_overflow=%d", objs, reps, over)
}

// Sites are the k stacks that allocated most, "n=<objects> site=<frames>".
func (p *PhaseSites) Sites(k int) []string {
	type site struct {
		n     int64
		stack [32]uintptr
	}
	var sites []site
	for s, n := range p.objs {
		sites = append(sites, site{n, s})
	}
	slices.SortFunc(sites, func(a, b site) int {
		if a.n != b.n {
			return int(b.n - a.n)
		}
		return slices.Compare(a.stack[:], b.stack[:])
	})
	var out []string
	for _, s := range sites[:min(k, len(sites))] {
		st := s.stack[:]
		if i := slices.Index(st, 0); i >= 0 {
			st = st[:i]
		}
		out = append(out, fmt.Sprintf("n=%d site=%s", s.n, stackNames(st, 8)))
	}
	return out
}

// allocFrames are the runtime's allocation entry points: a stack is named
// from the first frame past them.
var allocFrames = []string{"runtime.mallocgc", "runtime.newobject", "runtime.makeslice", "runtime.growslice",
	"runtime.makemap", "runtime.newarray", "runtime.rawstring", "runtime.rawbyteslice", "runtime.rawruneslice",
	"runtime.mProf_Malloc", "runtime.profilealloc", "runtime.makechan", "runtime.slicebytetostring",
	"runtime.concatstring", "runtime.convT", "runtime.mallocgcSmall", "runtime.mallocgcTiny", "runtime.mallocgcLarge",
	"internal/runtime/maps.newarray", "internal/runtime/maps.newobject"}

// stackNames names up to n frames of a stack past the allocation entry
// points, innermost first; when the stack goes on, the innermost frame
// outside the runtime follows after "…" (so that a runtime-internal
// allocation shows what in the runtime allocated, and who caused it).
func stackNames(stack []uintptr, n int) string {
	var names []string
	var user string
	frames := runtime.CallersFrames(stack)
	skipping := true
	for {
		f, more := frames.Next()
		if f.Function != "" {
			isAlloc := slices.ContainsFunc(allocFrames, func(a string) bool { return strings.HasPrefix(f.Function, a) })
			if !(skipping && isAlloc) {
				skipping = false
				name := fmt.Sprintf("%s:%d", strings.TrimPrefix(f.Function, "github.com/uiodrv/uiodrv/"), f.Line)
				inRuntime := strings.HasPrefix(f.Function, "runtime.") || strings.HasPrefix(f.Function, "internal/")
				switch {
				case len(names) < n:
					names = append(names, name)
				case user == "" && !inRuntime:
					user = name
				}
				if len(names) >= n && (user != "" || !inRuntime) {
					break
				}
			}
		}
		if !more {
			break
		}
	}
	s := strings.Join(names, "<")
	if user != "" {
		s += "<…<" + user
	}
	return s
}
