package bench

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A histogram as cyclictest 2.4 writes it (-t1 -h 2000 --histfile), cut short.
const cycHist = `# Histogram
000000 000000
000005 000009
000499 000001
000500 000001
000999 000001
001000 000002
001500 000001
# Total: 000000018
# Min Latencies: 00005
# Avg Latencies: 00071
# Max Latencies: 04100
# Histogram Overflows: 00003
# Histogram Overflow at cycle number:
# Thread 0: 00010 00011 00012
`

func TestParseCyclictestHist(t *testing.T) {
	r, err := parseCyclictestHist([]byte(cycHist), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Misses: the buckets at 1000 µs and above (2 + 1) and the 3 overflows.
	if r.Misses != 6 || r.Jobs != 18 || r.Wakeup.Count() != 18 {
		t.Errorf("misses %d jobs %d recorded %d, want 6, 18, 18", r.Misses, r.Jobs, r.Wakeup.Count())
	}
	// Late: from 500 µs (half the period) on: 1 + 1 + the misses.
	if r.Late != 8 {
		t.Errorf("late %d, want 8", r.Late)
	}
	if p50 := r.Wakeup.Quantile(0.5); p50 < 4000 || p50 > 7000 {
		t.Errorf("p50 %d ns, want about 5.5 µs", p50)
	}
	if _, err := parseCyclictestHist([]byte("000001 000002\n"), time.Millisecond); err == nil {
		t.Error("a histogram without its summary lines was accepted")
	}
	if _, err := parseCyclictestHist([]byte("0000x1 000002\n# Total: 1\n"), time.Millisecond); err == nil {
		t.Error("a malformed bucket line was accepted")
	}
}

// TestCyclictestHost runs the real cyclictest on the host when it is staged
// (UIODRV_CYCLICTEST=path to the binary, e.g. the one StageCyclictest
// unpacked, with LD_LIBRARY_PATH set) and root: the parser against the real
// output.
func TestCyclictestHost(t *testing.T) {
	bin := os.Getenv("UIODRV_CYCLICTEST")
	if bin == "" || os.Geteuid() != 0 {
		t.Skip("UIODRV_CYCLICTEST unset or not root")
	}
	if _, err := exec.LookPath(bin); err != nil {
		t.Skip(err)
	}
	r, err := RunCyclictest(bin, PeriodicOptions{CPU: 0, Prio: 80, Period: time.Millisecond, Duration: time.Second})
	if err != nil {
		if strings.Contains(err.Error(), "error while loading shared libraries") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	if r.Jobs < 900 || r.Jobs > 1001 || r.Wakeup.Count() != r.Jobs || r.Misses > r.Jobs {
		t.Errorf("jobs %d recorded %d misses %d: want ~1000 jobs, all recorded", r.Jobs, r.Wakeup.Count(), r.Misses)
	}
	t.Logf("cyclictest 1 s: %d jobs, %d over 1 ms, p50 %d ns, max %d ns", r.Jobs, r.Misses, r.Wakeup.Quantile(0.5), r.Wakeup.Max())
}
