package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/rt"
)

// --housekeeping-cpus: the process's unpinned threads (the Go runtime's,
// the handler's own goroutines' threads) go to these CPUs once the ports are
// up, so that nothing of uiodrv but the interrupt's hard part runs on a
// real-time task's CPU (rt.Housekeep).

// maxCPUs bounds every CPU number a list may name: the CPU set that
// sched_setaffinity takes here (unix.CPUSet, CPU_SETSIZE) holds 1024 CPUs,
// which is also the kernel's CONFIG_NR_CPUS limit of most distributions'
// kernels. A bigger number is refused before anything is allocated for it.
const maxCPUs = len(unix.CPUSet{}) * 64

// parseCPUList reads a kernel CPU list ("1", "0-3,6"). Every CPU must be
// below maxCPUs, so the list holds at most maxCPUs entries per range.
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
		if b >= maxCPUs {
			return nil, fmt.Errorf("CPU %d is above the kernel's CPU limit here (%d CPUs, 0-%d)", b, maxCPUs, maxCPUs-1)
		}
		if len(out)+b-a+1 > maxCPUs {
			return nil, fmt.Errorf("the list names more than %d CPUs", maxCPUs)
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
		if !set.IsSet(c) {
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
