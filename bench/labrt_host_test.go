package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
)

// TestRTRunsHost: every run (idle and kernel too) runs once per host
// placement, placements adjacent; bad names are refused.
func TestRTRunsHost(t *testing.T) {
	if all, err := ParseHostPlacements("shared,pinned,fifo,timer,timer-nice,timer-quiet,timer-iso,timer-fifo,rt"); err != nil || len(all) != 9 {
		t.Fatalf("every placement: %v %v", all, err)
	}
	hosts, err := ParseHostPlacements("shared,fifo")
	if err != nil {
		t.Fatal(err)
	}
	o := LabOptions{RTModes: []deferral.Mode{deferral.ModeThreaded}, RTRates: []float64{20000}, RTReps: 1, RTKernel: true, RTHost: hosts}
	var got []string
	for _, r := range o.rtRuns(true) {
		got = append(got, r.key()+"@"+r.host)
	}
	want := "idle/default@shared idle/default@fifo threaded/default@shared threaded/default@fifo kernel/default@shared kernel/default@fifo"
	if strings.Join(got, " ") != want {
		t.Fatalf("runs\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	for _, bad := range []string{"pinned,isolated", "shared,"} {
		if _, err := ParseHostPlacements(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestWriteRTResultsHost: a boot's runs under a host placement are tabulated
// as a boot of their own, compared with that placement's idle and kernel.
func TestWriteRTResultsHost(t *testing.T) {
	run := func(mode, host string, misses float64) *RTResult {
		return &RTResult{Mode: mode, Rate: 20000, Host: host, Fields: map[string]float64{"jobs": 1000, "misses": misses, "secs": 10, "processed": 200000}}
	}
	boot := &RTBoot{Cmdline: "threadirqs", Duration: 10 * time.Second, RT: []*RTResult{
		run("idle", HostShared, 100), run("idle", HostPinned, 10),
		run("threaded", HostShared, 400), run("threaded", HostPinned, 30),
		run("kernel", HostShared, 1000), run("kernel", HostPinned, 200)}}
	dir := t.TempDir()
	if err := WriteRTResults(dir, []*RTBoot{boot}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| threadirqs #1 (host shared) | 20 kpps | 400 | 100 | 4.00 | 4.00 | 1000 | 0.40 | 0.40 |",
		"| threadirqs #1 (host pinned) | 20 kpps | 30 | 10 | 3.00 | 3.00 | 200 | 0.15 | 0.15 |",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, b)
		}
	}
}

// TestRTRunsWarmup: the warm-up is one idle run before all others, under the
// first run's placement, and the measured runs are unchanged.
func TestRTRunsWarmup(t *testing.T) {
	o := LabOptions{RTModes: []deferral.Mode{deferral.ModeThreaded}, RTRates: []float64{20000}, RTReps: 2, RTHost: []string{HostTimer}}
	plain := o.rtRuns(false)
	o.RTWarmup = true
	runs := o.rtRuns(false)
	if len(runs) != len(plain)+1 || !runs[0].warmup || runs[0].mode != "idle" || runs[0].host != HostTimer {
		t.Fatalf("warm-up: %+v", runs)
	}
	for i, r := range runs[1:] {
		if r != plain[i] {
			t.Errorf("run %d: %+v, without warm-up %+v", i, r, plain[i])
		}
	}
}

// TestDropWarmup: a completed warm-up is dropped; a failed or hung one is
// kept, so that it counts as a failure; an ordinary run is never dropped.
func TestDropWarmup(t *testing.T) {
	warm, plain := rtRun{mode: "idle", warmup: true}, rtRun{mode: "idle"}
	for _, c := range []struct {
		run  rtRun
		rr   RTResult
		drop bool
	}{
		{warm, RTResult{}, true},
		{warm, RTResult{Err: "no result within 1m45s: the guest process was killed"}, false},
		{warm, RTResult{Hung: true, Err: "HUNG"}, false},
		{warm, RTResult{Hung: true}, false},
		{plain, RTResult{}, false},
	} {
		if got := dropWarmup(c.run, &c.rr); got != c.drop {
			t.Errorf("dropWarmup(warmup %v, err %q, hung %v) = %v, want %v", c.run.warmup, c.rr.Err, c.rr.Hung, got, c.drop)
		}
	}
}
