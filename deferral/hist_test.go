package deferral

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHistogramQuantilesWithinPrecision(t *testing.T) {
	var h Histogram
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]int64, 200000)
	for i := range vals {
		// log-uniform from 1 ns to ~1 s
		vals[i] = int64(math.Exp2(r.Float64() * 30))
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.99, 0.999, 1} {
		idx := int(q*float64(len(vals)) + 0.5)
		idx = min(max(idx, 1), len(vals)) - 1
		exact := vals[idx]
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/histSub+1 {
			t.Errorf("q %v: got %d, exact %d (more than 1/%d above)", q, got, exact, histSub)
		}
	}
	if h.Min() != vals[0] || h.Max() != vals[len(vals)-1] || h.Count() != uint64(len(vals)) {
		t.Errorf("min %d max %d count %d", h.Min(), h.Max(), h.Count())
	}
}

func TestHistogramSmallExactAndEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Mean() != 0 {
		t.Error("empty histogram")
	}
	for v := int64(0); v < 32; v++ {
		h.Record(v)
	}
	if h.Quantile(0.5) != 15 && h.Quantile(0.5) != 16 {
		t.Errorf("median of 0..31 = %d", h.Quantile(0.5))
	}
	h.Record(-5)
	h.Record(1<<63 - 1)
	if h.Min() != 0 || h.Max() != 1<<63-1 || h.Quantile(1) != 1<<63-1 {
		t.Errorf("edges: %v", h.String())
	}
	for i := 0; i < histBuckets; i++ {
		if histIndex(histHighest(i)) != i || (i > 0 && histIndex(histHighest(i-1)+1) != i) {
			t.Fatalf("bucket %d bounds inconsistent", i)
		}
	}
	var a, b Histogram
	a.Record(10)
	b.Record(1000)
	a.Merge(&b)
	if a.Count() != 2 || a.Min() != 10 || a.Max() != 1000 {
		t.Errorf("merge: %v", a.String())
	}
	a.Reset()
	if a.Count() != 0 {
		t.Error("reset")
	}
}

func TestHistogramRecordDoesNotAllocate(t *testing.T) {
	h := new(Histogram)
	if n := testing.AllocsPerRun(1000, func() { h.Record(12345); _ = h.Quantile(0.99) }); n != 0 {
		t.Errorf("%v allocs per Record+Quantile", n)
	}
}
