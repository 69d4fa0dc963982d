package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabSoak is the soak (make soak: 30 minutes; 90 seconds here, in make
// test). The guest runs uiodrv reflecting frames on an e1000 behind its own
// PCIe root port (vfio-pci, vIOMMU), with --fault-panic-every; the host sends
// numbered frames at a moderate rate, checks every reflection byte for byte,
// and meanwhile:
//
//   - sets the link down and up through QMP every 10 s;
//   - stops the driver with SIGSTOP for 300 ms and continues it (SIGCONT)
//     every 30 s, with traffic flowing;
//   - once, halfway, resets the NIC under the driver from another guest
//     process (sysfs reset: a secondary bus reset, pci_reset_function, the
//     kernel path VFIO_DEVICE_RESET takes), which the driver's watchdog must
//     find and recover from in its workqueue;
//   - the handler panics every N frames (the port recovers and counts).
//
// The sender pauses (and the host waits for every frame in flight) around
// the link-down and reset windows, since frames in a NIC that is reset or on
// a link that is down are lost by definition; SIGSTOP and the panics happen
// under traffic. At the end, every frame is accounted for: sent = processed
// + every named drop counter, every processed frame came back intact, and the
// driver's open fds and goroutines are what they were at the start.
//
// The environment tunes it (make soak sets these): UIODRV_SOAK_DURATION
// (90s), UIODRV_SOAK_RATE (500 frames/s), UIODRV_SOAK_PANIC_EVERY (10000;
// make soak 100000), UIODRV_SOAK_CPUS (guest vCPUs, 2), UIODRV_SOAK_NOLOCK=1
// (do not take the host-wide lab lock: for one long soak beside other lab
// boots, which then all run slower).
func TestLabSoak(t *testing.T) {
	labtest.Require(t)
	o, err := soakOptionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	bin := staticBinary(t)
	helper := labtest.TestBinary(t, "./cmd/uiodrv")
	nic := qemu.NIC{Model: qemu.E1000, RootPort: true}
	cfg := qemu.Config{
		NICs: []qemu.NIC{nic}, IOMMU: true, QMP: true, CPUs: o.cpus,
		Timeout: o.duration + 8*time.Minute,
	}
	bdf := cfg.BDF(0)
	cfg.Bind = []qemu.Binding{{BDF: bdf, Driver: "vfio-pci"}}
	cfg.Files = []qemu.File{{Host: bin, Guest: "/bin/uiodrv"}, {Host: helper, Guest: "/bin/uiodrv.test"}}
	cfg.Commands = []qemu.Command{
		// 0: the fault helper (reset, fd and goroutine probes), in the background.
		{Args: []string{"/bin/uiodrv.test", "-test.v", "-test.count=1", "-test.timeout=0", "-test.run", "^TestGuestSoakHelper$"},
			Env: []string{"SOAK_BDF=" + bdf, "SOAK_METRICS=127.0.0.1:" + soakMetricsPort}, Background: true},
		// 1: the driver under test.
		{Args: append([]string{"/bin/uiodrv"}, o.driverArgs(bdf)...)},
	}
	w := newSoakWatch(t)
	cfg.Output = w
	if o.noLock {
		t.Logf("soak: UIODRV_SOAK_NOLOCK=1: not taking the lab lock %s", qemu.LabLockPath())
	} else {
		unlock := labtest.Lock(t)
		defer unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	vm, err := qemu.StartReady(ctx, cfg, func(err error) { t.Logf("lab: retrying a boot that hung: %v", err) })
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	defer vm.Close()
	t.Logf("soak: %s; guest: uiodrv %s", o, strings.Join(o.driverArgs(bdf), " "))
	if _, err := vm.WaitOutput(ctx, 0, "SOAK HELPER ready"); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.WaitOutput(ctx, 1, "uiodrv: ready"); err != nil {
		res, _ := vm.Wait()
		t.Fatalf("%v%s", err, exitNote(res))
	}
	s := newSoak(t, vm, w, o)
	sum := s.run(ctx)
	// Stop the driver; its summary is the last word on its counters.
	if err := vm.Signal(1, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	if ex := res.Exits[1]; !ex.Ended || ex.Code != 0 {
		t.Errorf("the guest's uiodrv exited with status %d %s", ex.Code, ex.Err)
	}
	drv, err := parseRunSummary(res.Output[1])
	if err != nil {
		t.Fatalf("driver summary: %v\n%s", err, strings.Join(res.Output[1], "\n"))
	}
	sum.drv = drv
	report := sum.report()
	t.Logf("\n%s", report)
	if p := os.Getenv("UIODRV_SOAK_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(report), 0o644); err != nil {
			t.Errorf("write %s: %v", p, err)
		}
	}
	for _, e := range sum.check() {
		t.Error(e)
	}
}

// soakMetricsPort is where the guest driver serves metrics for the helper.
const soakMetricsPort = "9100"

type soakOptions struct {
	duration   time.Duration
	rate       int
	panicEvery uint64
	cpus       int
	noLock     bool
	size       int
	flapEvery  time.Duration // link down/up period
	downFor    time.Duration // how long the link stays down
	stopEvery  time.Duration // SIGSTOP/SIGCONT period
	stopFor    time.Duration // how long the driver stays stopped
}

func (o soakOptions) String() string {
	return fmt.Sprintf("duration %v, rate %d frames/s of %d bytes, handler panic every %d frames, link down %v every %v, SIGSTOP %v every %v, one reset halfway, %d vCPUs, lab lock %v",
		o.duration, o.rate, o.size, o.panicEvery, o.downFor, o.flapEvery, o.stopFor, o.stopEvery, o.cpus, !o.noLock)
}

func soakOptionsFromEnv() (soakOptions, error) {
	o := soakOptions{duration: 90 * time.Second, rate: 500, panicEvery: 10000, cpus: 2, size: 128,
		flapEvery: 10 * time.Second, downFor: time.Second, stopEvery: 30 * time.Second, stopFor: 300 * time.Millisecond}
	if v := os.Getenv("UIODRV_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 40*time.Second {
			return o, fmt.Errorf("UIODRV_SOAK_DURATION=%q: want a duration of at least 40s", v)
		}
		o.duration = d
	}
	num := func(name string, min, max uint64, into func(uint64)) error {
		v := os.Getenv(name)
		if v == "" {
			return nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < min || n > max {
			return fmt.Errorf("%s=%q: want %d to %d", name, v, min, max)
		}
		into(n)
		return nil
	}
	if err := num("UIODRV_SOAK_RATE", 1, 5000, func(n uint64) { o.rate = int(n) }); err != nil {
		return o, err
	}
	if err := num("UIODRV_SOAK_PANIC_EVERY", 1, 1<<40, func(n uint64) { o.panicEvery = n }); err != nil {
		return o, err
	}
	if err := num("UIODRV_SOAK_CPUS", 1, 4, func(n uint64) { o.cpus = int(n) }); err != nil {
		return o, err
	}
	o.noLock = os.Getenv("UIODRV_SOAK_NOLOCK") == "1"
	return o, nil
}

func (o soakOptions) driverArgs(bdf string) []string {
	return []string{"--dev", bdf, "--backend", "vfio", "--mode", "workqueue", "--handler", "reflect",
		"--stats-every", "1s", "--metrics", ":" + soakMetricsPort,
		"--fault-panic-every", strconv.FormatUint(o.panicEvery, 10)}
}
