package bench

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
)

// measure runs one target's measurements: a warm-up; Reps times the round
// trips then the throughput (the latter bracketed by phase marks); for a
// profiled mode, one more throughput repetition with the guest's CPU profile
// on (between profile marks); the idle CPU; Reps times the CPU at CPURate
// and at CPULight; the rate ladder.
func measure(o *LabOptions, l *Link, qemuPID int, n LabNIC, mode string) *TargetResult {
	r := &TargetResult{NIC: n, Mode: mode}
	fail := func(what string, err error) *TargetResult {
		r.Err = strings.TrimPrefix(r.Err+"; "+what+": "+err.Error(), "; ")
		r.summarise()
		return r
	}
	if _, err := l.Query(30 * time.Second); err != nil {
		return fail("first query", err)
	}
	// Warm-up: the first frames pay for page faults and lazy paths.
	if _, _, err := l.Throughput(500, o.Window); err != nil {
		return fail("warm-up", err)
	}
	reps := max(o.Reps, 1)
	for i := range reps {
		var h deferral.Histogram
		lost, err := l.RoundTrips(o.RTT, &h, &r.Samples)
		r.RTTLost += lost
		if err != nil {
			return fail("round trips", err)
		}
		r.RTT.Merge(&h)
		rep := Rep{P50: float64(h.Quantile(0.5)), P99: float64(h.Quantile(0.99)), RTTs: int(h.Count())}
		if _, err := l.Mark(i, false, 10*time.Second); err != nil {
			return fail("mark", err)
		}
		t0 := ReadThreadCPU(qemuPID)
		start := time.Now()
		tput, tlost, err := l.Throughput(o.TputFrames, o.Window)
		r.TLost += tlost
		if err != nil {
			return fail("throughput", err)
		}
		if i == reps-1 {
			r.QEMU = ThreadCPUDelta(t0, ReadThreadCPU(qemuPID), time.Since(start))
		}
		l.Drain(50 * time.Millisecond)
		if _, err := l.Mark(i, true, 10*time.Second); err != nil {
			return fail("mark", err)
		}
		rep.Tput = tput
		r.Reps = append(r.Reps, rep)
	}
	// A profiled mode's CPU profile: one more throughput repetition, its
	// own, so that no marked one runs the profiler (marks.go).
	if slices.ContainsFunc(o.Profile, func(m deferral.Mode) bool { return m.String() == mode }) {
		if err := profileRep(o, l); err != nil {
			return fail("profiled throughput", err)
		}
	}
	// The rest are independent: a failure is noted and the next one runs.
	note := func(what string, err error) {
		if err != nil {
			r.Err = strings.TrimPrefix(r.Err+"; "+what+": "+err.Error(), "; ")
		}
	}
	var err error
	r.CPUIdle, _, err = l.CPULoad(0, o.CPUTime/2, 2)
	note("idle cpu", err)
	for i := range r.Reps {
		var c uint64
		r.Reps[i].CPUMod, c, err = l.CPULoad(o.CPURate, o.CPUTime, 2)
		r.CPUCnt += c
		note("cpu", err)
		r.Reps[i].CPULight, c, err = l.CPULoad(o.CPULight, o.CPUTime, 2)
		r.CPULightCnt += c
		note("light cpu", err)
	}
	r.Ladder, err = l.RateLadder(o.Rates, o.RateStep)
	r.MaxRate = MaxLossless(r.Ladder)
	note("rate ladder", err)
	r.summarise()
	return r
}

// profileRep runs the profiled throughput repetition between profile marks.
func profileRep(o *LabOptions, l *Link) error {
	if _, err := l.ProfileMark(true, 10*time.Second); err != nil {
		return err
	}
	_, _, err := l.Throughput(o.TputFrames, o.Window)
	l.Drain(50 * time.Millisecond)
	_, merr := l.ProfileMark(false, 10*time.Second)
	return errors.Join(err, merr)
}

// summarise sets the medians of the repetitions.
func (r *TargetResult) summarise() {
	r.Tput = r.Median(func(p Rep) float64 { return p.Tput })
	r.CPUMod = r.Median(func(p Rep) float64 { return p.CPUMod })
	r.CPULight = r.Median(func(p Rep) float64 { return p.CPULight })
}

// Median is the median over the repetitions of f (0 with none).
func (r *TargetResult) Median(f func(Rep) float64) float64 {
	v := r.values(f)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Spread is the lowest and highest over the repetitions of f.
func (r *TargetResult) Spread(f func(Rep) float64) (lo, hi float64) {
	v := r.values(f)
	if len(v) == 0 {
		return 0, 0
	}
	return v[0], v[len(v)-1]
}

func (r *TargetResult) values(f func(Rep) float64) []float64 {
	v := make([]float64, 0, len(r.Reps))
	for _, p := range r.Reps {
		v = append(v, f(p))
	}
	slices.Sort(v)
	return v
}

// Rep fields as functions, for Median and Spread.
var (
	repP50      = func(p Rep) float64 { return p.P50 }
	repP99      = func(p Rep) float64 { return p.P99 }
	repTput     = func(p Rep) float64 { return p.Tput }
	repCPUMod   = func(p Rep) float64 { return p.CPUMod }
	repCPULight = func(p Rep) float64 { return p.CPULight }
)
