package rt

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Helpers that explain a refused sched_setattr: they read /proc and /sys and
// make no system call of their own.

// hasCapSysNice reports whether the process holds CAP_SYS_NICE.
func hasCapSysNice() bool { return hasCap(unix.CAP_SYS_NICE) }

// hasCap reads CapEff from /proc/self/status and tests capability bit c.
func hasCap(c int) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<c) != 0
		}
	}
	return false
}

// rtShare is sched_rt_runtime_us/sched_rt_period_us as a percentage.
func rtShare() string {
	rt, err1 := readInt("/proc/sys/kernel/sched_rt_runtime_us")
	per, err2 := readInt("/proc/sys/kernel/sched_rt_period_us")
	switch {
	case err1 != nil || err2 != nil || per <= 0:
		return "95%"
	case rt < 0:
		return "100%"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(rt)/float64(per))
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// onlineCPUs parses /sys/devices/system/cpu/online ("0-3,6").
func onlineCPUs() (unix.CPUSet, error) {
	var set unix.CPUSet
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return set, err
	}
	return parseCPUList(strings.TrimSpace(string(b)))
}

func parseCPUList(s string) (unix.CPUSet, error) {
	var set unix.CPUSet
	for _, r := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return set, fmt.Errorf("cpu list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return set, fmt.Errorf("cpu list %q: %w", s, err)
			}
		}
		for i := a; i <= b && i < len(set)*64; i++ {
			set.Set(i)
		}
	}
	return set, nil
}

// subset reports whether every CPU of a is in b.
func subset(a, b unix.CPUSet) bool {
	for i := range a {
		if a[i]&^b[i] != 0 {
			return false
		}
	}
	return true
}

// cpuList formats a CPU set as the kernel does ("0-1,3").
func cpuList(set unix.CPUSet) string {
	var parts []string
	n := len(set) * 64
	for i := 0; i < n; i++ {
		if !set.IsSet(i) {
			continue
		}
		j := i
		for j+1 < n && set.IsSet(j+1) {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(i))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", i, j))
		}
		i = j
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}
