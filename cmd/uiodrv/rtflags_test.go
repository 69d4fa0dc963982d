package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/uiodrv/uiodrv/internal/unix"
	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/rt"
)

// Bad real-time flags exit 2 with the valid form, before anything is opened.
func TestRTFlagUsageErrors(t *testing.T) {
	dev := []string{"--dev", "0000:00:03.0"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "threaded", "--bh-sched", "edf:1ms"}, "deadline:RUNTIME/PERIOD"},
		{[]string{"--mode", "threaded", "--bh-sched", "deadline:2ms/1ms"}, "runtime <= deadline <= period"},
		{[]string{"--mode", "threaded", "--bh-sched", "deadline:200us/2ms/1ms"}, "runtime <= deadline <= period"},
		{[]string{"--mode", "threaded", "--bh-sched", "deadline:900us/800us/1ms"}, "deadline:RUNTIME/DEADLINE/PERIOD"},
		{[]string{"--mode", "workqueue", "--bh-sched", "deadline:200us"}, "valid forms"},
		{[]string{"--mode", "threaded", "--bh-sched", "fifo:100"}, "1..99"},
		{[]string{"--mode", "napi", "--bh-sched", "fifo:50"}, "applies to --mode threaded and workqueue"},
		{[]string{"--mode", "threaded", "--bh-sched", "fifo:50", "--thread-prio", "60"}, "not both"},
		{[]string{"--mode", "threaded", "--bh-sched", "deadline:200us/1ms", "--bh-cpu", "1"}, "cannot be pinned"},
		{[]string{"--rt-lock", "--rt-mem-limit", "8"}, "--rt-mem-limit 8"},
		{[]string{"--rt-mem-limit", "128"}, "only used with --rt-lock"},
		{[]string{"--mode", "napi", "--top-half", "none"}, "applies to --mode threaded and workqueue"},
		{[]string{"--mode", "threaded", "--top-half", "none", "--rt-prio", "90"}, "drop --rt-prio"},
		{[]string{"--mode", "threaded", "--top-half", "none", "--bh-sched", "deadline:200us/1ms", "--irq-cpu", "0"}, "drop --irq-cpu"},
		{[]string{"--mode", "threaded", "--top-half", "heavy"}, "copy, light, none, thread"},
		{[]string{"--mode", "napi", "--top-half", "thread"}, "applies to --mode threaded and workqueue"},
		{[]string{"--mode", "tasklet", "--top-half", "thread"}, "applies to --mode threaded and workqueue"},
		{[]string{"--mode", "workqueue", "--top-half", "thread", "--rt-prio", "90"}, "drop --rt-prio"},
		{[]string{"--mode", "workqueue", "--top-half", "thread", "--bh-sched", "deadline:200us/1ms", "--irq-cpu", "0"}, "drop --irq-cpu"},
		{[]string{"--mode", "threaded", "--bh-sched", "deadline:200us/1ms@4096"}, "is not one this process may use"},
		{[]string{"--mode", "threaded", "--bh-sched", "fifo:50@1"}, "valid forms"},
		{[]string{"--mode", "threaded", "--top-half", "thread", "--rt-prio", "90"}, "drop --rt-prio"},
		{[]string{"--mode", "threaded", "--top-half", "thread", "--bh-sched", "deadline:200us/1ms", "--irq-cpu", "0"}, "drop --irq-cpu"},
		{[]string{"--housekeeping-cpus", "4096"}, "above the kernel's CPU limit"},
		{[]string{"--housekeeping-cpus", "1-x"}, "want a CPU list"},
		{[]string{"--housekeeping-cpus", "3-1"}, "want a CPU list"},
		{[]string{"--housekeeping-cpus", ""}, "want a CPU list"},
	}
	for _, c := range cases {
		args := append(append([]string{}, dev...), c.args...)
		code, out, errOut := runCLI(args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("uiodrv %v: exit %d, stderr %q; want exit 2 naming %q", args, code, errOut, c.want)
		}
	}
}

// TestParseCPUList: the kernel's CPU list forms.
func TestParseCPUList(t *testing.T) {
	got, err := parseCPUList("1,3-5, 8")
	if err != nil || fmt.Sprint(got) != "[1 3 4 5 8]" {
		t.Fatalf("parseCPUList = %v, %v", got, err)
	}
	for _, bad := range []string{"", "a", "-1", "2-", "5-3", "1,,2"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// holdDeadline keeps n threads under s until the test ends.
func holdDeadline(t *testing.T, s rt.Sched, n int) {
	t.Helper()
	release := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
			attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_DEADLINE, Flags: 1,
				Runtime: uint64(s.Runtime), Deadline: uint64(s.Deadline), Period: uint64(s.Period)}
			errs <- unix.SchedSetAttr(0, &attr, 0)
			<-release
			_ = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr}, 0)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			close(release)
			t.Skipf("cannot hold SCHED_DEADLINE here: %v", err)
		}
	}
	t.Cleanup(func() { close(release) })
}

// A --bh-sched the kernel refuses (admission control here) is a runtime
// failure, reported with its cause and fix before the device is opened: the
// device in the fake sysfs passes every check, and opening it would fail
// differently.
func TestRTPreflightRefusalBeforeOpen(t *testing.T) {
	vfioDevDir = t.TempDir()
	defer func() { vfioDevDir = bus.DefaultVFIODir }()
	for _, n := range []string{"vfio", "3"} {
		if err := os.WriteFile(filepath.Join(vfioDevDir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := fakeSysfs(t, []string{"vfio-pci"}, "", fakeDev{"0000:00:03.0", "0x8086", e1000ID, netCls, "vfio-pci", 3, ""})
	// Take most of the root domain's deadline bandwidth (95% of each CPU).
	n := runtime.NumCPU()
	holdDeadline(t, rt.Deadline(900*time.Microsecond, time.Millisecond, time.Millisecond), n)

	var f runFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.add(fs)
	if err := fs.Parse([]string{"--dev", "0000:00:03.0", "--mode", "threaded", "--bh-sched", "deadline:300us/1ms"}); err != nil {
		t.Fatal(err)
	}
	if err := f.validate(); err != nil {
		t.Fatal(err)
	}
	if err := f.rt.validate(fs, f.parsedMode, f.threadPrio); err != nil {
		t.Fatal(err)
	}
	lim := limits{capIPCLock: true, capSysNice: true}
	err := runPort(context.Background(), &env{stdout: os.Stdout, stderr: os.Stderr}, &f, s, lim, &busGuard{}, zap.NewNop())
	if !errors.Is(err, rt.ErrDeadlineBusy) || !strings.Contains(err.Error(), "fix:") || !strings.Contains(err.Error(), "--bh-sched") {
		t.Fatalf("runPort = %v; want ErrDeadlineBusy naming --bh-sched and the fix", err)
	}
	if code := report(&strings.Builder{}, "run", err); code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
}

// TestTopNoneConfig: --top-half none gives the port the light top half at the
// bottom half's class, unpinned when that class is deadline.
func TestTopNoneConfig(t *testing.T) {
	dl := rt.Deadline(200*time.Microsecond, time.Millisecond, time.Millisecond)
	for _, c := range []struct {
		mode  deferral.Mode
		sched rt.Sched
		want  rt.Sched
		cpu   int
	}{
		{deferral.ModeThreaded, rt.Sched{}, rt.FIFO(deferral.DefaultIRQThreadPrio), 0},
		{deferral.ModeThreaded, dl, dl, -1},
		{deferral.ModeWorkqueue, rt.Sched{}, rt.Sched{Policy: rt.PolicyOther, Nice: -20}, 0},
	} {
		r := rtFlags{topNone: true, sched: c.sched}
		cfg := driver.Config{Mode: c.mode, IRQCPU: 0, RTPrio: 90, TopHalf: driver.TopHalfCopy}
		r.applyTopNone(&cfg, 0)
		if cfg.IRQSched != c.want || cfg.RTPrio != 0 || cfg.TopHalf != driver.TopHalfLight || cfg.IRQCPU != c.cpu {
			t.Errorf("%v %v: top half %v at %v (rt prio %d) on cpu %d; want light at %v on cpu %d", c.mode, c.sched,
				cfg.TopHalf, cfg.IRQSched, cfg.RTPrio, cfg.IRQCPU, c.want, c.cpu)
		}
	}
	cfg := driver.Config{Mode: deferral.ModeThreaded, RTPrio: 90}
	(&rtFlags{}).applyTopNone(&cfg, 0)
	if !cfg.IRQSched.IsZero() || cfg.RTPrio != 90 {
		t.Error("without --top-half none the config changed")
	}
}

// TestTopThreadConfig: --top-half thread gives the port TopHalfThread at the
// IRQ thread's class, unpinned under deadline; in workqueue mode at the
// worker's class (nice -20 without --bh-sched).
func TestTopThreadConfig(t *testing.T) {
	wq := driver.Config{Mode: deferral.ModeWorkqueue, IRQCPU: 0, RTPrio: 90}
	(&rtFlags{topThread: true}).applyTopNone(&wq, 0)
	if want := (rt.Sched{Policy: rt.PolicyOther, Nice: -20}); wq.TopHalf != driver.TopHalfThread || wq.IRQSched != want ||
		wq.RTPrio != 0 || wq.IRQCPU != 0 {
		t.Errorf("workqueue: top half %v at %v (rt prio %d) on cpu %d; want thread at %v on cpu 0", wq.TopHalf, wq.IRQSched, wq.RTPrio, wq.IRQCPU, want)
	}
	dl := rt.Deadline(200*time.Microsecond, time.Millisecond, time.Millisecond)
	r := rtFlags{topThread: true, sched: dl}
	cfg := driver.Config{Mode: deferral.ModeThreaded, IRQCPU: 0, RTPrio: 90}
	r.applyTopNone(&cfg, 0)
	if cfg.TopHalf != driver.TopHalfThread || cfg.IRQSched != dl || cfg.RTPrio != 0 || cfg.IRQCPU != -1 {
		t.Errorf("top half %v at %v (rt prio %d) on cpu %d; want thread at %v on cpu -1", cfg.TopHalf, cfg.IRQSched, cfg.RTPrio, cfg.IRQCPU, dl)
	}
}
