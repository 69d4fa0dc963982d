package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabRT boots the lab once for the real-time features:
//   - uiodrv rt alone: the idle floor of this boot;
//   - uiodrv run in threaded mode with --bh-sched deadline:200us/1ms and
//     --rt-lock reflects traffic; its summary must report 0 GC cycles while
//     running, locked memory and the sized GOMAXPROCS;
//   - uiodrv rt runs beside it on the interrupt's CPU for 4 s: its job count
//     is duration/period, its latencies ordered, and its thread list shows
//     the IRQ thread under SCHED_DEADLINE as the kernel reports it (policy 6
//     in /proc/PID/task/TID/stat, parameters from sched_getattr);
//   - rt's SCHED_DEADLINE tests run in the guest kernel: what pinning does
//     to a deadline thread there (EPERM, EBUSY), placement, admission
//     control, memory locking; and deferral's: the threaded and workqueue
//     bottom halves under SCHED_DEADLINE.
func TestLabRT(t *testing.T) {
	labtest.Require(t)
	bin := staticBinary(t)
	dtest := labtest.TestBinary(t, "./deferral")
	rtest := labtest.TestBinary(t, "./rt")
	const rtDur, rtPeriod = 4 * time.Second, time.Millisecond
	rtArgs := []string{"rt", "--cpu", "0", "--period", rtPeriod.String(), "--work", "100us", "--prio", "80",
		"--duration", rtDur.String()}
	cfg := labConfig(bin, qemu.E1000, driver.BackendVFIO, 3*time.Minute,
		append(rtArgs[:len(rtArgs):len(rtArgs)], "--list=false"), // the idle floor of this boot
		[]string{"--dev", labBDF, "--mode", "threaded", "--bh-sched", "deadline:200us/1ms", "--rt-lock",
			"--handler", "reflect", "--irq-cpu", "0", "--rt-prio", "90", "--stats-every", "1s"},
		append(rtArgs[:len(rtArgs):len(rtArgs)], "--delay", "6s"),
	)
	cfg.Commands[1].Background = true
	cfg.Files = append(cfg.Files, qemu.File{Host: dtest, Guest: "/bin/deferral.test"})
	cfg.Commands = append(cfg.Commands, qemu.Command{Args: []string{"/bin/deferral.test", "-test.v", "-test.count=1",
		"-test.run", "^(TestDeadline|TestLockedThreadsCount$|TestInlineWork|TestGuestAdaptiveSleep$)"}})
	cfg.Files = append(cfg.Files, qemu.File{Host: rtest, Guest: "/bin/rt.test"})
	cfg.Commands = append(cfg.Commands, qemu.Command{Args: []string{"/bin/rt.test", "-test.v", "-test.count=1",
		"-test.run", "^(TestDeadline|TestLockMemory$|TestHousekeep$)"}})
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
	if _, err := vm.WaitOutput(ctx, 1, "uiodrv: ready"); err != nil {
		t.Fatal(err)
	}
	// Traffic through the deadline bottom half while rt measures (it starts
	// 6 s after uiodrv, which is ready after about 2 s).
	tr := newTraffic(vm.Peer(0), 200)
	tr.run(ctx, 1000, 9*time.Second, func(l string) { t.Log("host ", l) })
	if tr.intact.Load() == 0 || tr.corrupt.Load() != 0 {
		t.Errorf("traffic: sent %d, back intact %d, altered %d", tr.sent.Load(), tr.intact.Load(), tr.corrupt.Load())
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

	// uiodrv run: no GC while running, memory locked, GOMAXPROCS sized.
	for _, s := range []string{"gc cycles while running 0;", "memory locked, GC off", "locked threads", "device released"} {
		if !strings.Contains(out(1), s) {
			t.Errorf("uiodrv run output lacks %q:\n%s", s, out(1))
		}
	}
	// uiodrv rt, alone and beside the packet path: the fields, and the IRQ
	// thread under SCHED_DEADLINE. Misses are reported, not judged: under
	// TCG on a shared host they measure the host as much as uiodrv.
	jobs, misses := parseRT(t, out(0), rtPeriod, rtDur)
	t.Logf("rt alone (idle floor): %d jobs, %d missed", jobs, misses)
	jobs, misses = parseRT(t, out(2), rtPeriod, rtDur)
	t.Logf("rt beside threaded+deadline: %d jobs, %d missed", jobs, misses)
	found := false
	for _, l := range res.Output[2] {
		if strings.Contains(l, "irq/") && strings.Contains(l, "deadline:200µs/1ms") && strings.Contains(l, "* pid") {
			found = true
		}
	}
	if !found {
		t.Errorf("rt's thread list shows no IRQ thread under deadline:200µs/1ms:\n%s", out(2))
	}
	// deferral's tests in the guest kernel: deadline, the single-thread
	// workqueue, and adaptive's wait (it must end on time under TCG); rt's:
	// the kernel's refusals, placement, memory locking.
	for _, c := range []struct {
		pkg   string
		out   int
		tests []string
	}{
		{"deferral", 3, []string{"TestDeadlineThreadedAndWorkqueue", "TestDeadlineBudgetYields", "TestInlineWorkRunsOnTopHalf", "TestGuestAdaptiveSleep"}},
		{"rt", 4, []string{"TestDeadlineErrors", "TestDeadlinePlaced", "TestLockMemory", "TestHousekeep"}},
	} {
		for _, s := range c.tests {
			if !strings.Contains(out(c.out), "--- PASS: "+s) {
				t.Errorf("%s's %s did not pass in the guest:\n%s", c.pkg, s, out(c.out))
			}
		}
		if strings.Contains(out(c.out), "--- FAIL") {
			t.Errorf("%s tests failed in the guest:\n%s", c.pkg, out(c.out))
		}
	}
}
