package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
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

// enterPartition moves the calling process into a cgroup v2 cpuset partition
// (cpuset.cpus.partition=root) of cpu, mounting cgroup2 if it is not, and
// returns what the partition reads back. Every thread of the process moves;
// threads started later start in it.
func enterPartition(cpu int) (string, error) {
	const root = "/sys/fs/cgroup"
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil {
		if err := os.MkdirAll(root, 0o755); err != nil {
			return "", err
		}
		if err := unix.Mount("cgroup2", root, "cgroup2", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return "", fmt.Errorf("mount cgroup2: %w", err)
		}
	}
	write := func(f, v string) error {
		if err := os.WriteFile(f, []byte(v), 0); err != nil {
			return fmt.Errorf("%s <- %q: %w", f, v, err)
		}
		return nil
	}
	if err := write(filepath.Join(root, "cgroup.subtree_control"), "+cpuset"); err != nil {
		return "", err
	}
	if err := os.Mkdir(partitionCgroup, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	steps := [][2]string{
		{"cpuset.cpus", strconv.Itoa(cpu)},
		{"cpuset.cpus.partition", "root"},
		{"cgroup.procs", strconv.Itoa(os.Getpid())},
	}
	for _, s := range steps {
		if err := write(filepath.Join(partitionCgroup, s[0]), s[1]); err != nil {
			return "", err
		}
	}
	b, err := os.ReadFile(filepath.Join(partitionCgroup, "cpuset.cpus.partition"))
	if err != nil {
		return "", err
	}
	got := strings.TrimSpace(string(b))
	if got != "root" {
		return got, fmt.Errorf("cpuset partition of CPU %d reads %q, not root", cpu, got)
	}
	var m unix.CPUSet
	if err := unix.SchedGetaffinity(0, &m); err != nil || m.Count() != 1 || !m.IsSet(cpu) {
		return got, fmt.Errorf("in the partition of CPU %d the process's mask has %d CPUs (%v)", cpu, m.Count(), err)
	}
	return got, nil
}

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
	b, _ := os.ReadFile("/proc/self/cgroup")
	if strings.Contains(string(b), filepath.Base(partitionCgroup)) {
		fd, err := unix.Open("/sys/fs/cgroup", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", err
		}
		probeCgroupFD = fd
		p, _ := os.ReadFile(filepath.Join(partitionCgroup, "cpuset.cpus.partition"))
		var m unix.CPUSet
		_ = unix.SchedGetaffinity(0, &m)
		return fmt.Sprintf("in cpuset partition %s (cpuset.cpus.partition %s), process CPUs %d of them (CPU %d)",
			partitionCgroup, strings.TrimSpace(string(p)), m.Count(), cpu), nil
	}
	if err := removePartition(); err != nil {
		return "", err
	}
	if _, err := enterPartition(cpu); err != nil {
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
// rows and the idle floor need every CPU back in the root cgroup. A
// partition still holding a process (none between runs) is left, with an
// error.
func removePartition() error {
	if _, err := os.Stat(partitionCgroup); err != nil {
		return nil
	}
	_ = os.WriteFile(filepath.Join(partitionCgroup, "cpuset.cpus.partition"), []byte("member"), 0)
	if err := unix.Rmdir(partitionCgroup); err != nil {
		return fmt.Errorf("rmdir %s: %w", partitionCgroup, err)
	}
	return nil
}
