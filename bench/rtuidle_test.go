package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
)

// TestParseUIdle: variants, the @before suffix, leading environment words,
// and refusals.
func TestParseUIdle(t *testing.T) {
	vs, err := ParseUIdle("rt=--mode threaded --rt-lock; nolock@before=GODEBUG=x=1 --mode threaded ;")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%+v", vs)
	want := "[{Name:rt Args:[--mode threaded --rt-lock] Env:[] Before:false} {Name:nolock Args:[--mode threaded] Env:[GODEBUG=x=1] Before:true}]"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for _, bad := range []string{"--mode threaded", "=--mode x", "a=", "a b=--mode x", "a=K=V"} {
		if _, err := ParseUIdle(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestRTRunsUIdle: each repetition has, after its idle floor, the kernel's
// row with no traffic and one run per idle uiodrv variant, all kept by
// RTRows, and the plan carries a variant to the guest.
func TestRTRunsUIdle(t *testing.T) {
	o := LabOptions{RTModes: []deferral.Mode{deferral.ModeThreaded}, RTRates: []float64{20000}, RTReps: 2, RTKernel: true,
		RTRows: []string{"none/none"}, RTUIdle: []UIdleVariant{{Name: "rt", Args: []string{"--mode", "threaded"}}, {Name: "old", Before: true}}}
	var got []string
	for _, r := range o.rtRuns(true) {
		got = append(got, fmt.Sprintf("%d:%s@%.0f", r.rep, r.label(), r.rate))
	}
	want := "0:idle@0 0:kernel@-1 0:uiodrv idle rt@-1 0:uiodrv idle old@-1 0:kernel@20000 " +
		"1:idle@0 1:kernel@-1 1:uiodrv idle rt@-1 1:uiodrv idle old@-1 1:kernel@20000"
	if strings.Join(got, " ") != want {
		t.Fatalf("runs\n got %v\nwant %v", strings.Join(got, " "), want)
	}
	p := GuestPlan{RTTarget: "0000:00:03.0", RTDuration: time.Second, RTUIdleArgs: "--mode threaded --rt-lock", RTUIdleBin: "/bin/uiodrv",
		RTUIdleEnv: "A=1", RTUIdleName: "rt", RTKernelBest: true, RTKernelNAPIOff: true, RTPartition: true}
	q, err := ParseGuestEnv(p.Env())
	if err != nil {
		t.Fatal(err)
	}
	if q.RTUIdleArgs != p.RTUIdleArgs || q.RTUIdleBin != p.RTUIdleBin || q.RTUIdleEnv != p.RTUIdleEnv || q.RTUIdleName != p.RTUIdleName || !q.RTKernelBest || !q.RTKernelNAPIOff || !q.RTPartition {
		t.Fatalf("round trip: %+v", q)
	}
}

// TestWriteRTResultsNoTraffic: the idle uiodrv rows and the idle kernel row
// are tabulated as "no traffic" and compared with each other; a PREEMPT_RT
// boot with the kernel's best configuration is named so.
func TestWriteRTResultsNoTraffic(t *testing.T) {
	res := func(mode string, rate float64, misses float64) *RTResult {
		return &RTResult{Mode: mode, Rate: rate, Fields: map[string]float64{"jobs": 30000, "misses": misses, "secs": 30}}
	}
	b := &RTBoot{Kernel: "7.2.13+deb14-rt-amd64", KernelBest: true, Duration: 30 * time.Second,
		RT: []*RTResult{res("idle", 0, 10), res("kernel", noTraffic, 20), res("uiodrv idle rt", noTraffic, 25), res("kernel", 20000, 100)}}
	dir := t.TempDir()
	if err := WriteRTResults(dir, []*RTBoot{b}); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	row := "| PREEMPT_RT 7.2.13+deb14-rt-amd64, kernel best #1 | no traffic | 25 | 10 | 2.50 | 2.50 | 20 | 1.25 |"
	if !strings.Contains(string(out), row) {
		t.Fatalf("no row %q in\n%s", row, out)
	}
}
