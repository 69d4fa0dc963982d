package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteRTResultsTail: runs that counted late wake-ups get a table of
// their own with ratios against the kernel and the idle floor of their
// boot; boots without the field get none.
func TestWriteRTResultsTail(t *testing.T) {
	run := func(mode string, rate float64, rep int, late float64) *RTResult {
		return &RTResult{Mode: mode, Rate: rate, Rep: rep, Fields: map[string]float64{"jobs": 1000, "misses": 1, "late": late, "p999": 400e3, "secs": 10}}
	}
	boot := &RTBoot{Cmdline: "threadirqs", Duration: 10 * time.Second, RT: []*RTResult{
		run("idle", 0, 0, 10), run("kernel", 20000, 0, 200), run("threaded+deadline", 20000, 0, 50),
		run("idle", 0, 1, 30), run("kernel", 20000, 1, 100), run("threaded+deadline", 20000, 1, 50)}}
	dir := t.TempDir()
	if err := WriteRTResults(dir, []*RTBoot{boot}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	s := string(b)
	for _, want := range []string{
		"## Below a miss: wake-ups at least half a period late",
		// late 50, 50 against the kernel's 200, 100 (median 150) and idle 10, 30 (20).
		"| threadirqs #1 | threaded+deadline | 20 kpps | 50 (50–50) | 0.33 | 0.38 (0.25–0.50) | 20 (10–30) | 2.50 | 0.40 |",
		"| threadirqs #1 | idle | none | 20 (10–30) | – | – | 20 (10–30) | 1.00 | 0.40 |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, s)
		}
	}
	for _, r := range boot.RT {
		delete(r.Fields, "late")
	}
	if err := WriteRTResults(dir, []*RTBoot{boot}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	if strings.Contains(string(b), "Below a miss") {
		t.Error("a tail table for runs that did not count late wake-ups")
	}
}
