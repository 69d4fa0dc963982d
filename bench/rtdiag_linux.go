package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Diagnostics of the real-time scenario's threads: the scheduler's own
// per-thread statistics (/proc/PID/task/TID/sched, CONFIG_SCHED_DEBUG), read
// before and after a run, so that a bottom half that ran too little shows
// why: its CPU time, how often it was preempted (involuntary switches), and
// for SCHED_DEADLINE its runtime left and current deadline.

// schedStat is one thread's snapshot.
type schedStat struct {
	comm   string
	policy int
	cpu    string // the CPU it last ran on (/proc/.../stat field 39)
	f      map[string]float64
}

// readSchedStats reads every thread of this process whose policy is not
// SCHED_OTHER (real-time and deadline threads).
func readSchedStats() map[int]schedStat {
	out := map[int]schedStat{}
	dirs, _ := filepath.Glob("/proc/self/task/[0-9]*")
	for _, d := range dirs {
		tid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "sched"))
		if err != nil {
			continue
		}
		st := schedStat{f: map[string]float64{}}
		c, _ := os.ReadFile(filepath.Join(d, "comm"))
		st.comm = strings.TrimSpace(string(c))
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			st.f[strings.TrimSpace(k)] = x
		}
		if b, err := os.ReadFile(filepath.Join(d, "stat")); err == nil {
			if i := strings.LastIndexByte(string(b), ')'); i >= 0 {
				if f := strings.Fields(string(b)[i+1:]); len(f) > 36 {
					st.cpu = f[36]
				}
			}
		}
		st.policy = int(st.f["policy"])
		if st.policy != 0 {
			out[tid] = st
		}
	}
	return out
}

// writeSchedDelta prints one RT NOTE line per real-time thread: CPU time
// (ms), switches and involuntary switches during the run, and its deadline
// parameters' live values at the end (dl.runtime: ns left in the current
// instance; negative: overrun).
func writeSchedDelta(w io.Writer, tag string, a, b map[int]schedStat) {
	tids := make([]int, 0, len(b))
	for t := range b {
		tids = append(tids, t)
	}
	sort.Ints(tids)
	for _, t := range tids {
		e, s := b[t], a[t]
		d := func(k string) float64 { return e.f[k] - s.f[k] }
		line := fmt.Sprintf("RT NOTE %s: thread %d %q policy %d prio %.0f last_cpu %s cpu_ms %.1f switches %.0f involuntary %.0f migrations %.0f",
			tag, t, e.comm, e.policy, e.f["prio"], e.cpu, d("se.sum_exec_runtime"), d("nr_switches"), d("nr_involuntary_switches"), d("se.nr_migrations"))
		if e.policy == 6 {
			line += fmt.Sprintf(" dl.runtime %.0f dl.deadline %.0f", e.f["dl.runtime"], e.f["dl.deadline"])
		}
		fmt.Fprintln(w, line)
	}
}

// clocksource names the guest's clocksource (under TCG, whether the TSC was
// trusted decides how fine the scheduler's clock is).
func clocksource() string {
	b, _ := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource")
	return strings.TrimSpace(string(b))
}
