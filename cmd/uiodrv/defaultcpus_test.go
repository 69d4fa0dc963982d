package main

import (
	"runtime"
	"testing"

	"github.com/spf13/pflag"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// TestDefaultCPUsFollowAffinity: inside a cpuset of one CPU (a partition,
// taskset, systemd AllowedCPUs) the defaults of --irq-cpu and --bh-cpu are
// that CPU, so that a command line that names neither is not refused. The
// thread's affinity stands in for the process's: sched_getaffinity(0) reads
// the calling thread's.
func TestDefaultCPUsFollowAffinity(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &all)
	cpus := processCPUs()
	if irq, bh := defaultCPUs(); irq != cpus[0] || (len(cpus) > 1 && bh != cpus[1]) {
		t.Errorf("defaults with CPUs %v: --irq-cpu %d --bh-cpu %d, want %d and the next", cpus, irq, bh, cpus[0])
	}
	last := cpus[len(cpus)-1]
	if last == 0 {
		t.Skip("one CPU only: the restricted case is the default case")
	}
	var one unix.CPUSet
	one.Set(last)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		t.Fatal(err)
	}
	f := &runFlags{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.add(fs)
	if err := fs.Parse([]string{"--dev", "0000:00:03.0", "--mode", "threaded"}); err != nil {
		t.Fatal(err)
	}
	f.dev = "0000:00:03.0"
	if err := f.validate(); err != nil {
		t.Fatalf("defaults on CPU %d alone: %v", last, err)
	}
	if f.irqCPU != last || f.bhCPU != last {
		t.Errorf("defaults on CPU %d alone: --irq-cpu %d --bh-cpu %d, want %d and %d", last, f.irqCPU, f.bhCPU, last, last)
	}
	// --queues 2 without --irq-cpu: both queues on the one CPU there is.
	f = &runFlags{}
	fs = pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.add(fs)
	if err := fs.Parse([]string{"--dev", "0000:00:03.0", "--queues", "2"}); err != nil {
		t.Fatal(err)
	}
	if err := f.validate(); err != nil {
		t.Fatalf("--queues 2 on CPU %d alone: %v", last, err)
	}
	if len(f.irqCPUs) != 2 || f.irqCPUs[0] != last || f.irqCPUs[1] != last {
		t.Errorf("--queues 2 on CPU %d alone: queue CPUs %v", last, f.irqCPUs)
	}
}
