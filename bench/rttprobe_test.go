package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSummarizeRTT(t *testing.T) {
	var xs []float64
	for i := 100; i >= 1; i-- { // 1..100 µs, unsorted
		xs = append(xs, float64(i)*1e3)
	}
	r := summarizeRTT(xs, 3)
	if r.n != 100 || r.lost != 3 || r.p50 != 51e3 || r.p99 != 100e3 {
		t.Errorf("summarizeRTT = %+v, want n 100, lost 3, p50 51 µs, p99 100 µs", r)
	}
	if r := summarizeRTT(nil, 2); r.n != 0 || r.lost != 2 || r.p50 != 0 {
		t.Errorf("no samples: %+v", r)
	}
}

// TestWriteRTT: the round-trip section lists each row that measured them,
// medians over repetitions, and the p99 ratio against the kernel's.
func TestWriteRTT(t *testing.T) {
	run := func(mode string, p50, p99 float64) *RTResult {
		f := map[string]float64{"jobs": 1000, "misses": 1, "secs": 10, "processed": 200000}
		rttResult{n: 2000, lost: 1, p50: p50 * 1e6, p99: p99 * 1e6}.store(f)
		return &RTResult{Mode: mode, Rate: 20000, Fields: f}
	}
	idle := &RTResult{Mode: "idle", Fields: map[string]float64{"jobs": 1000, "misses": 0, "secs": 10}}
	boots := []*RTBoot{{Cmdline: "", Duration: 10 * time.Second, RT: []*RTResult{idle,
		run("kernel", 0.3, 2.0), run("threaded+deadline", 0.9, 1.0), run("threaded+deadline", 0.8, 1.2), run("threaded+deadline", 1.0, 1.1)}}}
	dir := t.TempDir()
	if err := WriteRTResults(dir, boots); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"## Round trips during the runs",
		"| default #1 | kernel | 20 kpps | 2000 (1) | 0.30 (0.30–0.30) | 2.00 (2.00–2.00) | 1.00 |",
		"| default #1 | threaded+deadline | 20 kpps | 2000 (1) | 0.90 (0.80–1.00) | 1.10 (1.00–1.20) | 0.55 |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, s)
		}
	}
}
