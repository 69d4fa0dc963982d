package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ThreadCPU is one thread's CPU use over an interval, in cores.
type ThreadCPU struct {
	TID   int
	Comm  string
	Main  bool // the process's main thread (QEMU's main loop)
	Cores float64
}

type threadTicks struct {
	comm  string
	ticks uint64
	main  bool
}

// ReadThreadCPU reads utime+stime of every thread of pid.
func ReadThreadCPU(pid int) map[int]threadTicks {
	m := map[int]threadTicks{}
	dirs, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		tid, _ := strconv.Atoi(filepath.Base(d))
		m[tid] = threadTicks{comm: s[open+1 : close], ticks: ut + st, main: tid == pid}
	}
	return m
}

// ThreadCPUDelta turns two readings d apart into cores per thread, busiest
// first, dropping threads under 1%.
func ThreadCPUDelta(a, b map[int]threadTicks, d time.Duration) []ThreadCPU {
	const hz = 100 // USER_HZ
	var out []ThreadCPU
	for tid, t := range b {
		c := float64(t.ticks-a[tid].ticks) / hz / d.Seconds()
		if c >= 0.01 {
			out = append(out, ThreadCPU{TID: tid, Comm: t.comm, Cores: c, Main: t.main})
		}
	}
	slices.SortFunc(out, func(x, y ThreadCPU) int {
		switch {
		case x.Cores > y.Cores:
			return -1
		case x.Cores < y.Cores:
			return 1
		}
		return x.TID - y.TID
	})
	return out
}

func runOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}
