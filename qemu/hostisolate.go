package qemu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Host isolation for real-time measurements (HostPlacement.Isolate).
//
// Pinning QEMU's threads gives vCPU 0 a core, but not the core to itself:
// every other host process, the host's unbound kernel work and its device
// interrupts may still run there, and each of them delays the guest's task
// by however long the host's scheduler lets it run. RT-VM tuning guides
// isolate the vCPU's core (isolcpus, irqaffinity, the workqueue cpumask);
// isolateHostCPU does the same for the length of a measurement, without a
// reboot, and undoes it.

// isolation is what isolateHostCPU changed, to undo it.
type isolation struct {
	cpu     int
	keep    map[int]bool // processes left alone (placed by PlaceHost)
	started uint64       // clock ticks since boot when it began
	tasks   []threadState
	irqs    map[string]string // /proc/irq/N/smp_affinity_list: previous text
	wqMask  string            // the unbound workqueues' cpumask, "" if unchanged
}

// isolateHostCPU moves every host thread that may run on cpu, but those of the
// processes in keep, off it; the host's device interrupts and unbound
// workqueues too. Threads that cannot move (per-CPU kernel threads) stay.
func isolateHostCPU(cpu int, keep ...int) (*isolation, error) {
	iso := &isolation{cpu: cpu, irqs: map[string]string{}, keep: map[int]bool{}}
	var err error
	if iso.started, err = uptimeTicks(); err != nil {
		return nil, err
	}
	skip := iso.keep
	for _, p := range keep {
		skip[p] = true
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || skip[pid] {
			continue
		}
		tids, _ := tasks(pid)
		for _, tid := range tids {
			var m unix.CPUSet
			if unix.SchedGetaffinity(tid, &m) != nil || !m.IsSet(cpu) {
				continue
			}
			n := withoutCPU(m, cpu)
			if n.Count() == 0 {
				continue
			}
			if unix.SchedSetaffinity(tid, &n) != nil {
				// EINVAL: a per-CPU kernel thread (PF_NO_SETAFFINITY);
				// ESRCH: gone.
				continue
			}
			iso.tasks = append(iso.tasks, threadState{tid: tid, mask: m})
		}
	}
	irqDirs, _ := filepath.Glob("/proc/irq/[0-9]*/smp_affinity_list")
	for _, f := range irqDirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		prev := strings.TrimSpace(string(b))
		to := cpuListWithout(prev, cpu)
		if to == "" || to == prev {
			continue
		}
		// Some interrupts (per-CPU timers, managed vectors) refuse.
		if os.WriteFile(f, []byte(to), 0) == nil {
			iso.irqs[f] = prev
		}
	}
	if b, err := os.ReadFile(wqCPUMask); err == nil {
		prev := strings.TrimSpace(string(b))
		if to, ok := hexMaskWithout(prev, cpu); ok && os.WriteFile(wqCPUMask, []byte(to), 0) == nil {
			iso.wqMask = prev
		}
	}
	return iso, nil
}

const wqCPUMask = "/sys/devices/virtual/workqueue/cpumask"

// undo puts every mask back. A thread started during the isolation by a
// process it narrowed inherited the narrowed mask: it gets its process's
// previous mask if that process is known, or else every CPU back.
func (iso *isolation) undo() error {
	var errs []error
	if iso.wqMask != "" {
		if err := os.WriteFile(wqCPUMask, []byte(iso.wqMask), 0); err != nil {
			errs = append(errs, err)
		}
	}
	for f, prev := range iso.irqs {
		if err := os.WriteFile(f, []byte(prev), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
		}
	}
	byTid := map[int]unix.CPUSet{}
	for _, s := range iso.tasks {
		byTid[s.tid] = s.mask
		if err := unix.SchedSetaffinity(s.tid, &s.mask); err != nil && err != unix.ESRCH {
			errs = append(errs, fmt.Errorf("tid %d: %w", s.tid, err))
		}
	}
	all := onlineCPUs()
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || iso.keep[pid] {
			continue
		}
		tids, _ := tasks(pid)
		for _, tid := range tids {
			if _, done := byTid[tid]; done {
				continue
			}
			st, err := taskStartTicks(pid, tid)
			if err != nil || st < iso.started {
				continue
			}
			var m unix.CPUSet
			if unix.SchedGetaffinity(tid, &m) != nil || m.IsSet(iso.cpu) {
				continue
			}
			to, ok := byTid[pid]
			if !ok {
				to = all
			}
			_ = unix.SchedSetaffinity(tid, &to)
		}
	}
	return errors.Join(errs...)
}

func withoutCPU(m unix.CPUSet, cpu int) unix.CPUSet {
	m.Clear(cpu)
	return m
}

// cpuListWithout removes cpu from a CPU list ("0-1", "0,2-3") and returns the
// rest in the same syntax, or "" if nothing would be left or the list is
// malformed.
func cpuListWithout(list string, cpu int) string {
	var keep []string
	for _, part := range strings.Split(list, ",") {
		lo, hi, ok := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if ok {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a {
			return ""
		}
		for i := a; i <= b; i++ {
			if i != cpu {
				keep = append(keep, strconv.Itoa(i))
			}
		}
	}
	return strings.Join(keep, ",")
}

// hexMaskWithout clears cpu in a hexadecimal CPU mask ("3", "ff,ffffffff");
// false if the mask is malformed or would be empty.
func hexMaskWithout(mask string, cpu int) (string, bool) {
	words := strings.Split(mask, ",")
	w := len(words) - 1 - cpu/32
	if w < 0 || cpu < 0 {
		return "", false
	}
	v, err := strconv.ParseUint(words[w], 16, 32)
	if err != nil {
		return "", false
	}
	words[w] = strconv.FormatUint(v&^(1<<(cpu%32)), 16)
	for _, x := range words {
		if n, err := strconv.ParseUint(x, 16, 32); err == nil && n != 0 {
			return strings.Join(words, ","), true
		}
	}
	return "", false
}

// uptimeTicks is the time since boot in clock ticks, the unit of a task's
// start time in /proc/PID/stat.
func uptimeTicks() (uint64, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("lab: /proc/uptime: empty")
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("lab: /proc/uptime: %w", err)
	}
	return uint64(s * clockTicks), nil
}

// clockTicks is USER_HZ, which Linux fixes at 100 on every architecture
// for /proc's interfaces.
const clockTicks = 100

// taskStartTicks reads a thread's start time (field 22 of its stat).
func taskStartTicks(pid, tid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return 0, err
	}
	return statStartTicks(string(b))
}

// statStartTicks parses field 22 of a stat line; the command name (field
// 2) may hold spaces and parentheses, so fields count from its last ')'.
func statStartTicks(s string) (uint64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("lab: stat: no ')'")
	}
	f := strings.Fields(s[i+1:])
	const field = 22 - 3 // fields after ')' start at field 3
	if len(f) <= field {
		return 0, fmt.Errorf("lab: stat: %d fields", len(f)+2)
	}
	return strconv.ParseUint(f[field], 10, 64)
}

// onlineCPUs is the host's online CPUs, or the calling process's if they
// cannot be read.
func onlineCPUs() unix.CPUSet {
	var set unix.CPUSet
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		for _, c := range strings.Split(cpuListWithout(strings.TrimSpace(string(b)), -1), ",") {
			if n, err := strconv.Atoi(c); err == nil {
				set.Set(n)
			}
		}
	}
	if set.Count() == 0 {
		_ = unix.SchedGetaffinity(0, &set)
	}
	return set
}
