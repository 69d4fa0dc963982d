package bench

import (
	"fmt"
	"runtime"

	"github.com/uiodrv/uiodrv/mmio"
)

// Phase marks: the host brackets each throughput repetition with two
// queries whose sequence numbers say "repetition r starts" and "ends"
// (MarkSeq). The guest's handler snapshots its register accesses and the
// process's heap allocations at each (PhaseMarks), so that traps and
// allocations per reflected frame are those of the 32-in-flight reflect
// phase alone, not of the one-at-a-time round trips or the idle time
// around them ("register traps per reflected frame, 32 in
// flight").
//
// The CPU profiler allocates as it runs (runtime/pprof's profile writer), so
// the profiled modes are profiled in a throughput repetition of their own,
// after the marked ones: the host brackets it with two profile marks
// (ProfileSeq), at which the handler starts and stops the profile
// (PhaseMarks.Profile). No marked repetition runs with the profiler on.
const (
	markTag        = 0x4d41524b // "MARK" in the sequence number's upper 32 bits
	markEndBit     = 1 << 16
	markProfileBit = 1 << 17
	MaxMarkReps    = 16 // repetitions a PhaseMarks keeps
)

// MarkSeq is the sequence number of the query that starts (end false) or
// ends repetition rep.
func MarkSeq(rep int, end bool) uint64 {
	s := uint64(markTag)<<32 | uint64(rep&0xffff)
	if end {
		s |= markEndBit
	}
	return s
}

// parseMark reads a mark's repetition and end flag; ok is false for any
// other sequence number (random query numbers hit the tag with odds 2^-32).
func parseMark(seq uint64) (rep int, end, ok bool) {
	if seq>>32 != markTag || seq&0xffff >= MaxMarkReps || seq&markProfileBit != 0 {
		return 0, false, false
	}
	return int(seq & 0xffff), seq&markEndBit != 0, true
}

// ProfileSeq is the sequence number of the query that starts (on) or stops
// the guest's CPU profile.
func ProfileSeq(on bool) uint64 {
	s := uint64(markTag)<<32 | markProfileBit
	if on {
		s |= 1
	}
	return s
}

// parseProfile reads a profile mark; ok is false for any other sequence
// number.
func parseProfile(seq uint64) (on, ok bool) {
	if seq>>32 != markTag || seq&^1 != uint64(markTag)<<32|markProfileBit {
		return false, false
	}
	return seq&1 != 0, true
}

// markSnap is one snapshot: frames reflected so far, register accesses,
// heap objects allocated.
type markSnap struct {
	set               bool
	reflected, allocs uint64
	regs              mmio.Accesses
	gcs               uint32 // GC cycles completed (MemStats.NumGC)
	goroutines        int    // runtime.NumGoroutine
}

// PhaseMarks keeps the snapshots taken at the host's marks. It is written
// by the handler (one goroutine) and read by Fields once the port is closed.
// Recording allocates nothing: the MemStats it reads into is its own.
type PhaseMarks struct {
	// Regs returns the register accesses so far; nil when they are not
	// counted (the fields then leave them out).
	Regs func() mmio.Accesses
	// Profile, when set, is called with true at the host's profile start
	// mark and false at its stop mark (resent marks call it again), before
	// the mark's query is answered.
	Profile func(on bool)
	// Sites, when set, records the stack of every allocation inside the
	// marked repetitions (phasesites.go); the handler calls Begin at each
	// start mark before answering it.
	Sites *PhaseSites

	start, end [MaxMarkReps]markSnap
	ms         runtime.MemStats
}

// Record takes the snapshot of the mark seq (a resent mark overwrites its
// snapshot), with reflected the frames reflected so far. Called with the
// start mark after its query is served and with the end mark before, so
// that the query's own work (reading /proc/stat) stays outside.
func (m *PhaseMarks) Record(seq, reflected uint64) {
	rep, end, ok := parseMark(seq)
	if !ok {
		return
	}
	s := markSnap{set: true, reflected: reflected}
	if m.Regs != nil {
		s.regs = m.Regs()
	}
	runtime.ReadMemStats(&m.ms) // stops the world: twice per repetition only
	s.allocs, s.gcs, s.goroutines = m.ms.Mallocs, m.ms.NumGC, runtime.NumGoroutine()
	if end {
		m.end[rep] = s
		if m.Sites != nil {
			m.Sites.finish() // after the snapshot: its GC is no part of the repetition
		}
	} else {
		m.start[rep] = s
	}
}

// Begin is called with a start mark's seq before its query is answered:
// Sites' profile snapshot (and its GC) happens there, before the host starts
// the repetition. Other sequence numbers are ignored.
func (m *PhaseMarks) Begin(seq uint64) {
	if _, end, ok := parseMark(seq); ok && !end && m.Sites != nil {
		m.Sites.begin()
	}
}

// PhaseCounts is what the marks measured over every repetition whose two
// marks were seen.
type PhaseCounts struct {
	Reps                 int
	Frames, Regs, Allocs uint64
	Reads, Writes        uint64 // Regs split
	// MinRegs and MaxRegs are the per-repetition extremes of register
	// accesses per frame; MaxAllocs the highest allocations per frame.
	MinRegs, MaxRegs, MaxAllocs float64
	// GCs are the GC cycles completed inside the repetitions, and
	// Goroutines the goroutines started there (net): runtime work that
	// allocates without being the packet path (a GC's first cycle starts
	// its mark workers), to tell it from the packet path's allocations.
	GCs        uint64
	Goroutines int
}

// Counts sums the repetitions.
func (m *PhaseMarks) Counts() PhaseCounts {
	var c PhaseCounts
	for i := range m.start {
		s, e := m.start[i], m.end[i]
		if !s.set || !e.set || e.reflected <= s.reflected {
			continue
		}
		f := e.reflected - s.reflected
		acc, allocs := e.regs.Sub(s.regs), e.allocs-s.allocs
		regs := acc.Total()
		rpf, apf := float64(regs)/float64(f), float64(allocs)/float64(f)
		if c.Reps == 0 || rpf < c.MinRegs {
			c.MinRegs = rpf
		}
		c.MaxRegs, c.MaxAllocs = max(c.MaxRegs, rpf), max(c.MaxAllocs, apf)
		c.Reps++
		c.Frames += f
		c.Regs += regs
		c.Reads += acc.Reads
		c.Writes += acc.Writes
		c.Allocs += allocs
		c.GCs += uint64(e.gcs - s.gcs)
		c.Goroutines += e.goroutines - s.goroutines
	}
	return c
}

// Fields are the counts as BENCH DONE fields (ParseKV reads them back):
// tput_frames, tput_allocs, tput_allocs_pf, tput_allocs_pf_max, tput_gcs,
// tput_goroutines and, when
// registers are counted, tput_regs, tput_regs_pf, tput_regs_pf_min and
// tput_regs_pf_max, tput_reads_pf and tput_writes_pf. Empty when no repetition was marked.
func (m *PhaseMarks) Fields() string {
	c := m.Counts()
	if c.Reps == 0 {
		return ""
	}
	s := fmt.Sprintf(" tput_reps=%d tput_frames=%d tput_allocs=%d tput_allocs_pf=%.5f tput_allocs_pf_max=%.5f tput_gcs=%d tput_goroutines=%d",
		c.Reps, c.Frames, c.Allocs, float64(c.Allocs)/float64(c.Frames), c.MaxAllocs, c.GCs, c.Goroutines)
	if m.Regs != nil {
		f := float64(c.Frames)
		s += fmt.Sprintf(" tput_regs=%d tput_regs_pf=%.4f tput_regs_pf_min=%.4f tput_regs_pf_max=%.4f tput_reads_pf=%.4f tput_writes_pf=%.4f",
			c.Regs, float64(c.Regs)/f, c.MinRegs, c.MaxRegs, float64(c.Reads)/f, float64(c.Writes)/f)
	}
	return s
}
