package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
)

// validate checks the command line; every error is a usage error and
// nothing has been touched yet.
func (f *runFlags) validate() error {
	if f.dev == "" {
		return usagef("--dev is required (see uiodrv list for the NICs)")
	}
	var err error
	if f.addr, err = bus.ParseAddr(f.dev); err != nil {
		return usageError{fmt.Errorf("--dev %q: %w", f.dev, err)}
	}
	f.dev = f.addr.String() // one canonical spelling for every lookup from here on
	if f.parsedBack, err = driver.ParseBackend(f.backend); err != nil {
		return usageError{fmt.Errorf("--backend: %w", err)}
	}
	if err := f.validateVFIOAPI(); err != nil {
		return err
	}
	if f.parsedMode, err = deferral.ParseMode(f.mode); err != nil {
		return usagef("--mode %q: valid modes are %s", f.mode, modeNames())
	}
	top := f.topHalf
	if f.rt.topNone = top == "none"; f.rt.topNone { // rtflags.go: the light top half at the bottom half's class
		top = "light"
	}
	f.rt.topThread = top == "thread" // rtflags.go: the IRQ thread takes the interrupt
	if f.parsedTop, err = driver.ParseTopHalf(top); err != nil {
		return usagef("--top-half %q: valid top halves are copy, light, none, thread", f.topHalf)
	}
	switch f.handler {
	case "count", "reflect":
	case "capture":
		if f.pcap == "" {
			return usagef("--handler capture needs --pcap FILE")
		}
	case "forward":
		if f.fwdDev == "" {
			return usagef("--handler forward needs --fwd-dev BDF")
		}
	default:
		return usagef("--handler %q: valid handlers are count, reflect, capture, forward", f.handler)
	}
	if f.fwdDev != "" {
		if f.handler != "forward" {
			return usagef("--fwd-dev is only used with --handler forward")
		}
		if f.fwdAdr, err = bus.ParseAddr(f.fwdDev); err != nil {
			return usageError{fmt.Errorf("--fwd-dev %q: %w", f.fwdDev, err)}
		}
		f.fwdDev = f.fwdAdr.String()
		if f.fwdAdr == f.addr {
			return usagef("--fwd-dev must differ from --dev")
		}
	}
	if err := f.parseQueues(); err != nil {
		return err
	}
	if err := parseCPU("bh-cpu", f.bhCPU); err != nil {
		return err
	}
	if f.rtPrio < 0 || f.rtPrio > 99 {
		return usagef("--rt-prio %d: want 0 (SCHED_OTHER) or 1-99", f.rtPrio)
	}
	if f.threadPrio < -1 || f.threadPrio > 99 {
		return usagef("--thread-prio %d: want -1 (SCHED_OTHER), 0 (default 50) or 1-99", f.threadPrio)
	}
	if f.budget < 1 || f.budget > 4096 {
		return usagef("--budget %d: want 1 to 4096", f.budget)
	}
	if f.itr > 0xFFFF {
		return usagef("--itr %d: want 0 to 65535 (the ITR register's 16 bits, units of 256 ns)", f.itr)
	}
	if err := checkRingSize(f.ringSize); err != nil {
		return err
	}
	if !pow2(f.bhRing) || f.bhRing > maxBHRing {
		return usagef("--bh-ring %d: want a power of two up to %d", f.bhRing, maxBHRing)
	}
	if f.metrics != "" {
		if err := checkListenAddr(f.metrics); err != nil {
			return err
		}
	}
	if f.pcapOverwrite && f.pcap == "" {
		return usagef("--pcap-overwrite needs --pcap FILE")
	}
	if f.msix && f.parsedBack != driver.BackendVFIO {
		return usagef("--msix needs --backend vfio")
	}
	if f.duration < 0 || f.statsEvery < 0 || f.settle < 0 {
		return usagef("--duration, --stats-every and --settle must not be negative")
	}
	return nil
}

// parseQueues checks --queues and reads the --irq-cpu list: one CPU per
// queue. Without --irq-cpu, queue q runs on the q-th CPU the process may
// use (modulo their number); --bh-cpu is for a single queue.
func (f *runFlags) parseQueues() error {
	if f.queues < 1 || f.queues > driver.MaxQueues {
		return usagef("--queues %d: want 1 to %d", f.queues, driver.MaxQueues)
	}
	given := func(name string) bool { return f.fs != nil && f.fs.Changed(name) }
	f.irqCPUs = f.irqCPUs[:0]
	if !given("irq-cpu") && f.queues > 1 {
		cpus := processCPUs()
		for q := 0; q < f.queues; q++ {
			f.irqCPUs = append(f.irqCPUs, cpus[q%len(cpus)])
		}
	} else {
		for _, s := range strings.Split(f.irqCPUList, ",") {
			cpu, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return usagef("--irq-cpu %q: %q is not a CPU number; give one CPU per queue, e.g. --irq-cpu 0,1", f.irqCPUList, s)
			}
			if err := parseCPU("irq-cpu", cpu); err != nil {
				return err
			}
			f.irqCPUs = append(f.irqCPUs, cpu)
		}
	}
	if len(f.irqCPUs) != f.queues {
		return usagef("--irq-cpu %q lists %d CPUs for --queues %d: give one CPU per queue, e.g. --irq-cpu %s",
			f.irqCPUList, len(f.irqCPUs), f.queues, cpuExample(f.queues))
	}
	f.irqCPU = f.irqCPUs[0]
	if f.queues > 1 && given("bh-cpu") {
		return usagef("--bh-cpu is for a single queue: with --queues %d each queue's bottom half runs on its --irq-cpu; leave --bh-cpu out", f.queues)
	}
	return nil
}

// cpuExample is "0,1,...,n-1".
func cpuExample(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return strings.Join(s, ",")
}

func pow2(n int) bool { return n > 0 && n&(n-1) == 0 }

// parseFlags parses args for a command; it returns a status and done=true
// when the command must stop (--help, or a usage error already reported).
func parseFlags(e *env, fs *pflag.FlagSet, name, usage string, args []string) (status int, done bool) {
	fs.SetOutput(e.stderr)
	fs.SortFlags = false
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(e.stdout, usage)
			fs.SetOutput(e.stdout)
			fs.PrintDefaults()
			fmt.Fprint(e.stdout, "\nExit status: 0 ok, 1 runtime failure, 2 usage error.\n")
			return exitOK, true
		}
		return report(e.stderr, name, usageError{err}), true
	}
	if fs.NArg() > 0 {
		return report(e.stderr, name, usagef("unexpected argument %q", fs.Arg(0))), true
	}
	return 0, false
}
