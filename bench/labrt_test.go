package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/rt"
)

// TestRTRuns: repetitions interleave the idle floor, every rate, mode and top
// half, and the kernel's driver per rate.
func TestRTRuns(t *testing.T) {
	o := LabOptions{RTModes: []deferral.Mode{deferral.ModeThreaded, deferral.ModeNAPI}, RTRates: []float64{20000, 0},
		RTTopHalves: []driver.TopHalf{driver.TopHalfCopy, driver.TopHalfLight}, RTReps: 2, RTKernel: true}
	var got []string
	for _, r := range o.rtRuns(true) {
		got = append(got, fmt.Sprintf("%d:%s/%s@%.0f", r.rep, r.mode, r.th, r.rate))
	}
	rep := "idle/default@0 " +
		"threaded/copy@20000 threaded/light@20000 napi/copy@20000 napi/light@20000 kernel/default@20000 " +
		"threaded/copy@0 threaded/light@0 napi/copy@0 napi/light@0 kernel/default@0"
	var want []string
	for i := 0; i < 2; i++ {
		for _, f := range strings.Fields(rep) {
			want = append(want, fmt.Sprintf("%d:%s", i, f))
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("runs\n got %v\nwant %v", got, want)
	}
	if n := len((&LabOptions{RTModes: o.RTModes, RTRate: 8000}).rtRuns(false)); n != 3 {
		t.Fatalf("defaults: %d runs, want idle + 2 modes", n)
	}
}

func TestGuestPlanEnvRT(t *testing.T) {
	p := &GuestPlan{Backend: driver.BackendVFIO, RTTarget: "0000:00:03.0", RTDuration: time.Second, RTIRQPrio: 90, RTTaskPrio: 80,
		RTTopHalf: driver.TopHalfLight, RTKernel: "0000:00:04.0", RTIRQOff: true, RTProcOff: true, RTMSIX: true, RTITR: 3906}
	q, err := ParseGuestEnv(p.Env())
	if err != nil {
		t.Fatal(err)
	}
	if q.RTTopHalf != driver.TopHalfLight || q.RTKernel != p.RTKernel || !q.RTIRQOff || !q.RTProcOff || !q.RTMSIX || q.RTITR != 3906 {
		t.Fatalf("round trip: top half %v kernel %q irq off %v msix %v", q.RTTopHalf, q.RTKernel, q.RTIRQOff, q.RTMSIX)
	}
	env := append(p.Env(), "BENCH_RT_TOPHALF=heavy")
	if _, err := ParseGuestEnv(env); err == nil {
		t.Error("bad top half accepted")
	}
}

// TestRTRunsBHSched: with a bottom-half class, threaded and workqueue run
// once more with it (labelled mode+class), other modes once; RTSchedOnly
// keeps only the classed runs of those two. The plan carries the class and
// the probe to the guest, and refuses a bad one.
func TestRTRunsBHSched(t *testing.T) {
	dl := rt.Deadline(200*time.Microsecond, time.Millisecond, time.Millisecond)
	o := LabOptions{RTModes: []deferral.Mode{deferral.ModeThreaded, deferral.ModeNAPI, deferral.ModeWorkqueue}, RTRate: 20000, RTBHSched: dl}
	var got []string
	for _, r := range o.rtRuns(false) {
		got = append(got, r.label())
	}
	if g, w := strings.Join(got, " "), "idle threaded threaded+deadline napi workqueue workqueue+deadline"; g != w {
		t.Fatalf("runs %q, want %q", g, w)
	}
	o.RTSchedOnly = true
	got = got[:0]
	for _, r := range o.rtRuns(false) {
		got = append(got, r.label())
	}
	if g, w := strings.Join(got, " "), "idle threaded+deadline napi workqueue+deadline"; g != w {
		t.Fatalf("sched-only runs %q, want %q", g, w)
	}
	p := &GuestPlan{Backend: driver.BackendVFIO, RTTarget: "0000:00:03.0", RTDuration: time.Second, RTIRQPrio: 90, RTTaskPrio: 80,
		RTBHSched: dl.String(), RTProbe: ProbeGo}
	q, err := ParseGuestEnv(p.Env())
	if err != nil {
		t.Fatal(err)
	}
	if s, err := rt.ParseSched(q.RTBHSched); err != nil || s != dl || q.RTProbe != ProbeGo {
		t.Fatalf("round trip: sched %q (%v) probe %q", q.RTBHSched, err, q.RTProbe)
	}
	for _, bad := range []string{"BENCH_RT_BHSCHED=deadline:2ms/1ms", "BENCH_RT_PROBE=stopwatch"} {
		if _, err := ParseGuestEnv(append(p.Env(), bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestRTRunsRows: the thread top half runs in threaded and workqueue mode only, none also
// in NAPI (at the threadirqs class, TopNoneSched), and RTRows
// keeps the listed uiodrv runs (mode[+class]/top) beside idle and kernel.
func TestRTRunsRows(t *testing.T) {
	dl := rt.Deadline(200*time.Microsecond, time.Millisecond, time.Millisecond)
	o := LabOptions{RTModes: []deferral.Mode{deferral.ModeSoftirq, deferral.ModeNAPI, deferral.ModeThreaded, deferral.ModeWorkqueue}, RTRates: []float64{20000},
		RTTopHalves: []driver.TopHalf{driver.TopHalfLight, driver.TopHalfThread}, RTTopNone: true, RTBHSched: dl, RTReps: 1, RTKernel: true}
	var all []string
	for _, r := range o.rtRuns(true) {
		all = append(all, r.key())
	}
	want := "idle/default softirq/light napi/light napi/none threaded/light threaded/thread threaded/none threaded+deadline/light threaded+deadline/thread " +
		"threaded+deadline/none workqueue/light workqueue/thread workqueue/none workqueue+deadline/light workqueue+deadline/thread " +
		"workqueue+deadline/none kernel/default"
	if strings.Join(all, " ") != want {
		t.Fatalf("runs\n got %v\nwant %v", strings.Join(all, " "), want)
	}
	o.RTRows = []string{"softirq/light", "threaded+deadline/thread", " workqueue/none"}
	var kept []string
	for _, r := range o.rtRuns(true) {
		kept = append(kept, r.key())
	}
	if got := strings.Join(kept, " "); got != "idle/default softirq/light threaded+deadline/thread workqueue/none kernel/default" {
		t.Fatalf("RTRows kept %v", got)
	}
	if s := TopNoneSched(deferral.ModeNAPI, rt.Sched{}); s != rt.FIFO(deferral.DefaultIRQThreadPrio) {
		t.Fatalf("napi/none class %v, want the threadirqs IRQ thread's", s)
	}
}
