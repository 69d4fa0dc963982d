package bench

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/internal/cpupart"
)

// The deadline bottom half in a root domain of its own (GuestPlan.RTPartition).
//
// The kernel will not pin a SCHED_DEADLINE thread: its mask must span its
// root domain (rt/sched.go). "@CPU" only places it, and on Debian's 7.2
// PREEMPT_RT guest a placed deadline bottom half migrated between the two
// vCPUs about once a period (1 000 migrations a second in the RT NOTE thread
// lines), running on the task's vCPU half the time, above it. An exclusive
// cpuset partition gives the other vCPU a root domain of its own: a deadline
// thread of a process in it can run nowhere else. This is what docs/
// realtime.md tells a user to do, and what the bench does for uiodrv's rows
// with -rt-partition.

const partitionCgroup = "/sys/fs/cgroup/uiodrv-bh"

// probeCgroupFD, once the process runs in the partition, is the root cgroup's
// directory: the probe (cyclictest, a child) starts there (CLONE_INTO_CGROUP),
// on the task's CPU, not in the partition it would inherit. -1: none.
var probeCgroupFD = -1

// partitionFor puts the process in the partition of cpu when want is set, by
// entering it and re-executing itself, so that the process starts there as a
// user's would (from a systemd slice or cgexec): the rt package reads the
// process's CPUs once, at first use, and the driver's per-CPU threads are
// started on them. Without want it removes a partition an earlier run left.
// It returns a note for the run's log.
func partitionFor(want bool, cpu int) (string, error) {
	if !want {
		return "", removePartition()
	}
	if cpupart.In(partitionCgroup) {
		fd, err := unix.Open(cpupart.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", err
		}
		probeCgroupFD = fd
		var m unix.CPUSet
		_ = unix.SchedGetaffinity(0, &m)
		return fmt.Sprintf("in cpuset partition %s (cpuset.cpus.partition %s), process CPUs %d of them (CPU %d)",
			partitionCgroup, cpupart.State(partitionCgroup), m.Count(), cpu), nil
	}
	if err := removePartition(); err != nil {
		return "", err
	}
	if err := cpupart.Enter(partitionCgroup, cpu); err != nil {
		return "", err
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return "", unix.Exec(exe, os.Args, os.Environ())
}

// removePartition undoes an earlier run's partition, which outlives its
// process (the cgroup stays, and with it CPU's root domain): the kernel's
// rows and the idle floor need every CPU back in the root cgroup.
func removePartition() error { return cpupart.Remove(partitionCgroup) }
