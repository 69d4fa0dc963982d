package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabWorkqueueThread boots the lab once for the single-thread workqueue
// (--mode workqueue --top-half thread): at the worker's default class (nice
// -20, pinned to the interrupt's CPU) and under SCHED_DEADLINE placed on
// vCPU 1 (deadline:500us/1ms@1, the real-time scenario's row), each reflects
// 1000 frames/s for 5 s that the host checks byte for byte (none altered or
// duplicated, at most 1% lost in QEMU's socket), every frame is accounted
// for in the guest's summary, and the device is released. The deadline run
// also moves the process's unpinned threads to vCPU 1
// (--housekeeping-cpus), which its summary reports. The deferral
// package's single-thread workqueue tests run in the guest kernel in
// TestLabRT's boot.
func TestLabWorkqueueThread(t *testing.T) {
	labtest.Require(t)
	bin := staticBinary(t)
	run := func(extra ...string) []string {
		return append([]string{"--dev", labBDF, "--mode", "workqueue", "--top-half", "thread", "--handler", "reflect",
			"--duration", "9s", "--stats-every", "1s"}, extra...)
	}
	cfg := labConfig(bin, qemu.E1000, driver.BackendVFIO, 3*time.Minute,
		run("--irq-cpu", "0"),
		run("--bh-sched", "deadline:500us/1ms@1", "--rt-lock", "--housekeeping-cpus", "1"))
	cfg.Output = tWriter{t}
	unlock := labtest.Lock(t)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vm, err := qemu.StartReady(ctx, cfg, func(err error) { t.Logf("lab: retrying a boot that hung: %v", err) })
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	defer vm.Close()
	for i := 0; i < 2; i++ {
		if _, err := vm.WaitOutput(ctx, i, "uiodrv: ready"); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		tr := newTraffic(vm.Peer(0), 200)
		tr.run(ctx, 1000, 5*time.Second, func(l string) { t.Log("host ", l) })
		var sum strings.Builder
		tr.summary(&sum)
		t.Logf("run %d %v: %s", i, cfg.Commands[i].Args[1:], strings.TrimSpace(sum.String()))
		sent, intact := tr.sent.Load(), tr.intact.Load()
		if sent == 0 || tr.corrupt.Load() != 0 || tr.dup.Load() != 0 || intact*100 < sent*99 {
			t.Errorf("run %d: sent %d, back intact %d, altered %d, duplicated %d; want every frame intact (≤1%% lost)",
				i, sent, intact, tr.corrupt.Load(), tr.dup.Load())
		}
	}
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	out := func(i int) string { return strings.Join(res.Output[i], "\n") }
	for i := range res.Exits {
		if ex := res.Exits[i]; !ex.Ended || ex.Code != 0 {
			t.Errorf("command %d %v: exit %d %s\n%s", i, cfg.Commands[i].Args, ex.Code, ex.Err, out(i))
		}
	}
	for i := 0; i < 2; i++ {
		for _, s := range []string{"mode workqueue", "every frame accounted for", "device released"} {
			if !strings.Contains(out(i), s) {
				t.Errorf("run %d output lacks %q:\n%s", i, s, out(i))
			}
		}
	}
	if !housekept.MatchString(out(1)) {
		t.Errorf("the --housekeeping-cpus run does not report moved threads:\n%s", out(1))
	}
}

var housekept = regexp.MustCompile(`[1-9][0-9]* unpinned threads moved to CPUs 1`)
