package main

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/rt"
)

// --housekeeping-cpus: the process's unpinned threads (the Go runtime's,
// the handler's own goroutines' threads) go to these CPUs once the ports are
// up, so that nothing of uiodrv but the interrupt's hard part runs on a
// real-time task's CPU (rt.Housekeep).

// parseCPUList reads a kernel CPU list ("1", "0-3,6").
func parseCPUList(s string) ([]int, error) {
	var out []int
	for _, r := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(r), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a CPU or range", r)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a CPU range (low-high)", r)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

// validateHousekeeping checks --housekeeping-cpus against the CPUs this
// process may use; every error is a usage error.
func (r *rtFlags) validateHousekeeping(given bool) error {
	if !given {
		return nil
	}
	cpus, err := parseCPUList(r.housekeeping)
	if err != nil {
		return usagef("--housekeeping-cpus %q: %v; want a CPU list such as 1 or 1-3,6", r.housekeeping, err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	for _, c := range cpus {
		if c >= 1024 || !set.IsSet(c) {
			return usagef("--housekeeping-cpus %d: not a CPU this process may use (allowed: %s)", c, cpuList(&set))
		}
	}
	r.hkCPUs = cpus
	return nil
}

// housekeep moves the process's unpinned threads to the housekeeping CPUs
// (the executors' threads are up and pinned by now).
func (r *rtFlags) housekeep() error {
	if len(r.hkCPUs) == 0 {
		return nil
	}
	n, err := rt.Housekeep(r.hkCPUs)
	if err != nil {
		return fmt.Errorf("--housekeeping-cpus: %w (is the process's cpuset narrower than when it started? check /proc/self/status Cpus_allowed_list)", err)
	}
	r.housekept = n
	return nil
}
