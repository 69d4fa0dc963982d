package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteRTResults: one table per mode, a row per boot and rate, the median
// and range over repetitions, ratios against the idle floor and the kernel
// of the same boot, and hung runs counted, not dropped.
func TestWriteRTResults(t *testing.T) {
	run := func(mode string, rate float64, misses float64) *RTResult {
		return &RTResult{Mode: mode, Rate: rate, Fields: map[string]float64{"jobs": 1000, "misses": misses, "secs": 10, "processed": 200000}}
	}
	hung := &RTResult{Mode: "threaded+deadline", Rate: 20000, Hung: true, Err: "HUNG"}
	boots := []*RTBoot{
		{Cmdline: "threadirqs", Duration: 10 * time.Second, RT: []*RTResult{run("idle", 0, 10), run("threaded+deadline", 20000, 12),
			run("kernel", 20000, 100), hung}},
		{Cmdline: "threadirqs", Duration: 10 * time.Second, RT: []*RTResult{run("idle", 0, 30), run("threaded+deadline", 20000, 18),
			run("kernel", 20000, 300), run("threaded+deadline", 20000, 90)}},
		{Cmdline: "", Duration: 10 * time.Second, RT: []*RTResult{run("idle", 0, 50), run("threaded+deadline", 20000, 60), run("kernel", 20000, 400)}},
	}
	check := &RTBoot{Cmdline: "threadirqs", Duration: time.Second, RT: []*RTResult{run("napi", 20000, 900), run("napi", 20000, 5),
		{Mode: "napi", Rate: 20000, Hung: true, Err: "HUNG"}}}
	boots = append(boots, check)
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
		"## kernel\n", "## threaded+deadline\n",
		// misses 12, 18, 90: median 18; idle 10, 30: 20; kernel 100, 300: 200.
		// per rep: each run over the idle floor and kernel of its repetition.
		"| threadirqs #2 | 20 kpps | 54 (18–90) | 30 | 1.80 | 1.80 (0.60–3.00) | 300 | 0.18 | 0.18 (0.06–0.30) |",
		"| threadirqs #1 | 20 kpps | 12 | 10 | 1.20 | 1.20 | 100 | 0.12 | 0.12 |", "| 0 | 2 (0/1) |",
		"| default #1 | 20 kpps | 60 | 50 | 1.20 | 1.20 | 400 | 0.15 | 0.15 |",
		"## Consecutive runs (hang check)", "| napi | 3 | 2 | 0 | 1 |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "## napi") || strings.Contains(s, "900") {
		t.Error("a hang-check run was tabulated with the measurements")
	}
	if strings.Index(s, "## kernel") > strings.Index(s, "## threaded+deadline") {
		t.Error("the kernel's table should come first")
	}
}
