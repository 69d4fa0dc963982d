package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabBenchSmoke runs the whole lab pipeline of make bench once, small:
// one e1000 under uiodrv (NAPI mode) beside one under the kernel driver,
// a short ladder and a short real-time run. It checks that every measurement
// produced a number, not what the numbers are (the lab is too noisy for
// thresholds in CI).
//
// NAPI: a real-time run of the threaded (and once the workqueue) mode in the
// guest was seen to never report under SCHED_FIFO overload; the cause is
// found and fixed (deferral's doc.go, "Real-time threads"), but this test
// has not been rerun with threaded yet.
func TestLabBenchSmoke(t *testing.T) {
	labtest.Require(t)
	res := runSmoke(t, DefaultNICs[:2], time.Second)
	if len(res.Targets) != 2 {
		t.Fatalf("%d targets measured", len(res.Targets))
	}
	for _, r := range res.Targets {
		if r.Err != "" || r.Tput == 0 || r.RTT.Count() == 0 || len(r.Ladder) == 0 || r.CPUMod == 0 || r.Guest == "" {
			t.Errorf("%s %s: incomplete: err %q tput %v rtt %d ladder %d cpu %v guest %q",
				r.NIC.Model, r.Mode, r.Err, r.Tput, r.RTT.Count(), len(r.Ladder), r.CPUMod, r.Guest)
		}
	}
	// The frames go to a MAC no NIC owns (proto.go): the kernel's IPv4
	// stack must not have taken them in, and the profiled mode's profile
	// comes from its own repetition while the marked ones count
	// allocations.
	for _, r := range res.Targets {
		kv := ParseKV(r.Guest)
		if r.Mode == "kernel" {
			if ip, ok := kv["ip_in"]; !ok || ip > (kv["counted"]+kv["reflected"])/100 {
				t.Errorf("kernel: ip_in %v (present %v) of %v frames: the frames reached the IPv4 stack", ip, ok, kv["counted"]+kv["reflected"])
			}
			continue
		}
		if _, ok := kv["tput_allocs_pf"]; !ok || len(r.Profile) == 0 {
			t.Errorf("%s: allocations per frame %v, profile %d bytes", r.Mode, ok, len(r.Profile))
		}
	}
	if len(res.RT) != 2 || res.RT[1].Fields["jobs"] == 0 {
		t.Errorf("real-time scenario: %+v", res.RT)
	}
}

// runSmoke runs a small NAPI bench boot on nics (the real-time stage for
// rt, none when 0) and fails the test if the boot does.
func runSmoke(t *testing.T, nics []LabNIC, rt time.Duration) *LabResult {
	o := DefaultLabOptions([]deferral.Mode{deferral.ModeNAPI}, driver.BackendVFIO, true)
	o.NICs = nics
	o.Rates = []float64{2000}
	o.RTTime = rt
	o.Profile = []deferral.Mode{deferral.ModeNAPI} // its own repetition (marks.go)
	o.Timeout = 4 * time.Minute
	o.TestBinary = labtest.TestBinary(t, "./bench")
	o.Log = testLog{t}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	res, err := RunLab(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestLabBenchIGBSmoke runs the igb rows small: uiodrv with 1 and 2 queues
// (NAPI) beside the kernel's igb in one boot. Every target must produce
// numbers, and both queues of the 2-queue port must have carried frames
// (RSS spread the bench's flow frames).
func TestLabBenchIGBSmoke(t *testing.T) {
	labtest.Require(t)
	res := runSmoke(t, IGBNICs, 0)
	if len(res.Targets) != 3 {
		t.Fatalf("%d targets measured, want 3", len(res.Targets))
	}
	for _, r := range res.Targets {
		if r.Err != "" || r.Tput == 0 || r.RTT.Count() == 0 || len(r.Ladder) == 0 || r.Guest == "" {
			t.Errorf("%s %s: incomplete: err %q tput %v rtt %d ladder %d guest %q",
				r.NIC.Name(), r.Mode, r.Err, r.Tput, r.RTT.Count(), len(r.Ladder), r.Guest)
		}
	}
	two := ParseKV(res.Targets[1].Guest)
	if res.Targets[1].NIC.Queues != 2 || two["q0_rx"] == 0 || two["q1_rx"] == 0 || two["q0_rx"]+two["q1_rx"] != two["rx"] {
		t.Errorf("2-queue port: per-queue counters do not show both queues carrying the frames: %q", res.Targets[1].Guest)
	}
}
