// Package cpupart makes a cgroup v2 cpuset partition: a cgroup whose CPUs
// form a root domain of their own (cpuset.cpus.partition=root), and moves
// the calling process into it.
//
// It exists for the lab, which runs uiodrv the way docs/realtime.md tells a
// user to: a SCHED_DEADLINE thread cannot be pinned (its mask must span its
// root domain), so the only way to keep a deadline bottom half on one CPU is
// to give that CPU a root domain of its own. A partition outlives the
// process that made it; Remove gives its CPUs back.
package cpupart

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Root is where cgroup v2 is mounted (and where Enter mounts it if it is not).
const Root = "/sys/fs/cgroup"

// Enter makes dir, a cgroup directly below Root, a partition of cpu and
// moves the calling process (every thread; threads started later start in
// it) into it. It fails unless the partition reads back "root" and the
// process's CPU mask is then cpu alone.
func Enter(dir string, cpu int) error {
	if filepath.Dir(dir) != Root {
		return fmt.Errorf("cpupart: %s is not a cgroup directly below %s", dir, Root)
	}
	if _, err := os.Stat(filepath.Join(Root, "cgroup.controllers")); err != nil {
		if err := os.MkdirAll(Root, 0o755); err != nil {
			return err
		}
		if err := unix.Mount("cgroup2", Root, "cgroup2", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("cpupart: mount cgroup2: %w", err)
		}
	}
	if err := write(filepath.Join(Root, "cgroup.subtree_control"), "+cpuset"); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("cpupart: %w", err)
	}
	for _, s := range [][2]string{
		{"cpuset.cpus", strconv.Itoa(cpu)},
		{"cpuset.cpus.partition", "root"},
		{"cgroup.procs", strconv.Itoa(os.Getpid())},
	} {
		if err := write(filepath.Join(dir, s[0]), s[1]); err != nil {
			return err
		}
	}
	// "root invalid (...)" when the kernel could not make the partition:
	// the cgroup then is an ordinary member and the root domain unchanged.
	if got := State(dir); got != "root" {
		return fmt.Errorf("cpupart: partition of CPU %d reads %q, not root", cpu, got)
	}
	var m unix.CPUSet
	if err := unix.SchedGetaffinity(0, &m); err != nil || m.Count() != 1 || !m.IsSet(cpu) {
		return fmt.Errorf("cpupart: in the partition of CPU %d the process's mask has %d CPUs (%v)", cpu, m.Count(), err)
	}
	return nil
}

// State is what dir's cpuset.cpus.partition reads ("" if it cannot be read).
func State(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "cpuset.cpus.partition"))
	return strings.TrimSpace(string(b))
}

// In reports whether the calling process is in cgroup dir.
func In(dir string) bool {
	b, _ := os.ReadFile("/proc/self/cgroup")
	rel := strings.TrimPrefix(dir, Root)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "0::") && strings.TrimPrefix(l, "0::") == rel {
			return true
		}
	}
	return false
}

// Remove turns dir back into a member and removes it, giving its CPUs back
// to the root domain. A missing dir is no error; one still holding a
// process cannot be removed.
func Remove(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	_ = os.WriteFile(filepath.Join(dir, "cpuset.cpus.partition"), []byte("member"), 0)
	if err := unix.Rmdir(dir); err != nil {
		return fmt.Errorf("cpupart: rmdir %s: %w", dir, err)
	}
	return nil
}

func write(f, v string) error {
	if err := os.WriteFile(f, []byte(v), 0); err != nil {
		return fmt.Errorf("cpupart: %s <- %q: %w", f, v, err)
	}
	return nil
}
