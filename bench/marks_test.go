package bench

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/mmio"
)

func TestMarkSeq(t *testing.T) {
	for _, rep := range []int{0, 1, MaxMarkReps - 1} {
		for _, end := range []bool{false, true} {
			r, e, ok := parseMark(MarkSeq(rep, end))
			if !ok || r != rep || e != end {
				t.Errorf("MarkSeq(%d, %v) parses as %d %v %v", rep, end, r, e, ok)
			}
		}
	}
	// The round trips' and the throughput's sequence numbers, a repetition
	// beyond what is kept, and random query numbers are no marks.
	for _, s := range []uint64{1 << 62, 2<<62 | 5, MarkSeq(MaxMarkReps, false), 0} {
		if _, _, ok := parseMark(s); ok {
			t.Errorf("%#x parsed as a mark", s)
		}
	}
	for range 10000 {
		if s := rand.Uint64(); s>>32 != markTag {
			if _, _, ok := parseMark(s); ok {
				t.Errorf("%#x parsed as a mark", s)
			}
		}
	}
}

// TestHandlerMarks drives the handler with two marked repetitions and
// checks that the counts are those between each pair of marks: the
// reflections and register accesses outside them, and the work of the
// marking queries themselves (reading the CPU counters, which costs 1000
// "accesses" here), do not count. A resent end mark counts what came
// before it, the first end query's work included.
func TestHandlerMarks(t *testing.T) {
	dst, src := [6]byte{1}, [6]byte{2}
	var regs uint64
	srv := &Server{CPU: func() (uint64, uint64) { regs += 1000; return 1, 2 }}
	m := &PhaseMarks{Regs: func() mmio.Accesses { return mmio.Accesses{Reads: regs / 4, Writes: regs - regs/4} }}
	h := &Handler{Srv: srv, Marks: m}
	frame := func(op byte, seq uint64) []driver.Packet {
		return []driver.Packet{{Data: BuildFrame(make([]byte, 128), dst, src, op, seq)}}
	}
	reflect := func(n int, regsPer uint64) {
		for i := range n {
			h.Handle(frame(OpReflect, uint64(i)))
			regs += regsPer
		}
	}
	reflect(50, 7) // round trips: outside the marks
	h.Handle(frame(OpQuery, MarkSeq(0, false)))
	reflect(100, 1)
	h.Handle(frame(OpQuery, MarkSeq(0, true)))
	reflect(10, 9)
	h.Handle(frame(OpQuery, MarkSeq(0, true))) // a resent end mark: the last counts
	reflect(50, 7)
	h.Handle(frame(OpQuery, MarkSeq(1, false)))
	h.Handle(frame(OpQuery, MarkSeq(1, false))) // resent start
	reflect(300, 2)
	h.Handle(frame(OpQuery, MarkSeq(1, true)))
	h.Handle(frame(OpQuery, MarkSeq(2, false))) // never ended: left out
	reflect(20, 5)
	c := m.Counts()
	if c.Reps != 2 || c.Frames != 410 {
		t.Fatalf("counts %+v: want 2 reps of 410 frames (100+10 and 300)", c)
	}
	if c.Reads+c.Writes != c.Regs {
		t.Errorf("reads %d + writes %d != %d", c.Reads, c.Writes, c.Regs)
	}
	if c.Regs != 100+1000+10*9+600 || c.MinRegs != 2 || c.MaxRegs != 1190.0/110 {
		t.Errorf("register counts %+v: want 1790 accesses, per rep 1190/110 and 2 per frame", c)
	}
	f := m.Fields()
	for _, want := range []string{"tput_reps=2 ", "tput_frames=410 ", "tput_regs=1790 ", "tput_regs_pf_min=2.0000"} {
		if !strings.Contains(f, want) {
			t.Errorf("fields %q lack %q", f, want)
		}
	}
	if kv := ParseKV(f); kv["tput_allocs_pf"] != float64(c.Allocs)/410 {
		t.Errorf("fields %q: allocs per frame %v, counts %d", f, kv["tput_allocs_pf"], c.Allocs)
	}
	// Frames that are no marks cost the handler no allocation.
	pk := frame(OpReflect, 1)
	if allocs := testing.AllocsPerRun(100, func() { h.Handle(pk) }); allocs != 0 {
		t.Errorf("Handle with marks allocates %v per frame", allocs)
	}
	if (&PhaseMarks{}).Fields() != "" {
		t.Error("fields without marks")
	}
}

// TestProfileMarks: the profile marks reach PhaseMarks.Profile (on, then
// off, before the query is answered), are no phase marks, and a
// repetition bracketed by phase marks is counted as before.
func TestProfileMarks(t *testing.T) {
	for _, on := range []bool{false, true} {
		if o, ok := parseProfile(ProfileSeq(on)); !ok || o != on {
			t.Errorf("ProfileSeq(%v) parses as %v %v", on, o, ok)
		}
		if _, _, ok := parseMark(ProfileSeq(on)); ok {
			t.Errorf("ProfileSeq(%v) parsed as a phase mark", on)
		}
	}
	for _, s := range []uint64{MarkSeq(0, false), MarkSeq(1, true), ProfileSeq(true) | 2, 1 << 62, 0} {
		if _, ok := parseProfile(s); ok {
			t.Errorf("%#x parsed as a profile mark", s)
		}
	}
	srv := &Server{}
	var calls []bool
	m := &PhaseMarks{Profile: func(on bool) {
		if _, r := srv.Served(); r != 3 {
			t.Errorf("profile %v called with %d reflected, want 3", on, r)
		}
		calls = append(calls, on)
	}}
	h := &Handler{Srv: srv, Marks: m}
	pk := func(op byte, seq uint64) []driver.Packet {
		return []driver.Packet{{Data: BuildFrame(make([]byte, 128), [6]byte{1}, [6]byte{2}, op, seq)}}
	}
	h.Handle(pk(OpQuery, MarkSeq(0, false)))
	for range 3 {
		h.Handle(pk(OpReflect, 1))
	}
	h.Handle(pk(OpQuery, MarkSeq(0, true)))
	for _, on := range []bool{true, false} {
		q := pk(OpQuery, ProfileSeq(on))
		h.Handle(q)
		if q[0].Verdict != driver.Transmit {
			t.Errorf("profile mark %v not answered", on)
		}
	}
	if len(calls) != 2 || !calls[0] || calls[1] {
		t.Fatalf("profile calls %v, want [true false]", calls)
	}
	if c := m.Counts(); c.Reps != 1 || c.Frames != 3 {
		t.Fatalf("counts %+v, want 1 repetition of 3 frames", c)
	}
}

// TestMarksCountGCs: a GC cycle inside a repetition is counted (tput_gcs),
// one outside is not.
func TestMarksCountGCs(t *testing.T) {
	srv := &Server{}
	m := &PhaseMarks{}
	h := &Handler{Srv: srv, Marks: m}
	pk := func(op byte, seq uint64) []driver.Packet {
		return []driver.Packet{{Data: BuildFrame(make([]byte, 128), [6]byte{1}, [6]byte{2}, op, seq)}}
	}
	runtime.GC()
	h.Handle(pk(OpQuery, MarkSeq(0, false)))
	h.Handle(pk(OpReflect, 1))
	runtime.GC()
	runtime.GC()
	h.Handle(pk(OpQuery, MarkSeq(0, true)))
	runtime.GC()
	if c := m.Counts(); c.GCs != 2 {
		t.Fatalf("%d GC cycles counted, want 2", c.GCs)
	}
	if f := m.Fields(); !strings.Contains(f, " tput_gcs=2 ") {
		t.Fatalf("fields %q", f)
	}
}
