package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// An idle uiodrv beside the task: the uiodrv command itself (the binary the
// README's real-time flags are for, not the library as the bench drives it)
// runs on the real-time NIC with no traffic while the task runs, and every
// one of its threads is accounted for: CPU time, wake-ups, the CPUs it may
// run on, its class.

// rtRunFunc runs the task beside whatever the caller started (guestRT's run).
type rtRunFunc func(tag string, port *driver.Port, srv *Server, hooks *rtHooks)

// rtHooks run just before the task starts and just after it ends; after's
// result is appended to the RT RESULT line (" k=v...").
type rtHooks struct {
	before func()
	after  func() string
}

// UIdleTag is the guest's tag of an idle uiodrv run named name.
func UIdleTag(target, name string) string { return target + " uidle-" + name }

// guestRTUIdle starts uiodrv run on the real-time NIC with the plan's
// arguments, waits until it is ready, steers the NIC's interrupts to the
// task's CPU as the uiodrv rows do, runs the task, and stops uiodrv.
func guestRTUIdle(t *testing.T, plan *GuestPlan, run rtRunFunc) {
	tag := UIdleTag(plan.RTTarget, plan.RTUIdleName)
	args := append([]string{"run", "--dev", plan.RTTarget, "--handler", "count"}, strings.Fields(plan.RTUIdleArgs)...)
	cmd := exec.Command(plan.RTUIdleBin, args...)
	cmd.Env = append(os.Environ(), strings.Fields(plan.RTUIdleEnv)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%s: %v", tag, err)
	}
	cmd.Stderr = os.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start %s: %v", tag, plan.RTUIdleBin, err)
	}
	fmt.Printf("RT NOTE %s: %s %s (pid %d)\n", tag, plan.RTUIdleBin, strings.Join(args, " "), cmd.Process.Pid)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := false
		for sc.Scan() {
			fmt.Printf("uiodrv: %s\n", sc.Text())
			if !once && strings.Contains(sc.Text(), "uiodrv: ready") {
				once = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("%s: uiodrv not ready within 60s", tag)
	}
	note, err := steerIRQs(plan.RTTarget, 0)
	if err != nil {
		t.Fatalf("%s: %v", tag, err)
	}
	fmt.Printf("RT NOTE %s: %s\n", tag, note)
	time.Sleep(1200 * time.Millisecond)
	pid := cmd.Process.Pid
	var before map[int]taskStat
	var t0 time.Time
	hooks := &rtHooks{
		before: func() { before, t0 = readTaskStats(pid), time.Now() },
		after: func() string {
			return writeTaskDelta(os.Stdout, tag, before, readTaskStats(pid), time.Since(t0))
		},
	}
	run(tag, nil, nil, hooks)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("%s: uiodrv: %v", tag, err)
	}
}

// taskStat is one thread of another process.
type taskStat struct {
	comm    string
	cpus    string // Cpus_allowed_list
	lastCPU string
	ticks   uint64 // utime+stime, USER_HZ
	f       map[string]float64
}

// readTaskStats reads every thread of pid: /proc/PID/task/TID/{stat,status,sched}.
func readTaskStats(pid int) map[int]taskStat {
	m := map[int]taskStat{}
	dirs, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/[0-9]*")
	for _, d := range dirs {
		tid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		ts := taskStat{f: map[string]float64{}}
		if b, err := os.ReadFile(d + "/stat"); err == nil {
			s := string(b)
			if i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')'); i >= 0 && j > i {
				ts.comm = s[i+1 : j]
				if f := strings.Fields(s[j+1:]); len(f) > 36 {
					ut, _ := strconv.ParseUint(f[11], 10, 64)
					st, _ := strconv.ParseUint(f[12], 10, 64)
					ts.ticks, ts.lastCPU = ut+st, f[36]
				}
			}
		}
		if b, err := os.ReadFile(d + "/status"); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
					ts.cpus = strings.TrimSpace(v)
				}
			}
		}
		if b, err := os.ReadFile(d + "/sched"); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				k, v, ok := strings.Cut(l, ":")
				if !ok {
					continue
				}
				if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					ts.f[strings.TrimSpace(k)] = x
				}
			}
		}
		m[tid] = ts
	}
	return m
}

// mayRunOn0 reports whether a Cpus_allowed_list includes CPU 0.
func mayRunOn0(list string) bool {
	for _, r := range strings.Split(list, ",") {
		lo, _, _ := strings.Cut(r, "-")
		if strings.TrimSpace(lo) == "0" {
			return true
		}
	}
	return false
}

// writeTaskDelta prints one RT NOTE line per thread (CPU time from the
// scheduler and from utime+stime, wake-ups, class, allowed CPUs, last CPU)
// and returns the totals as k=v fields: ucpu_ms (all threads), ucpu0_ms and
// uwake0 (threads allowed on CPU 0, the task's), uwake, uticks.
func writeTaskDelta(w io.Writer, tag string, a, b map[int]taskStat, d time.Duration) string {
	tids := make([]int, 0, len(b))
	for t := range b {
		tids = append(tids, t)
	}
	sort.Ints(tids)
	var cpu, cpu0, wake, wake0 float64
	var ticks uint64
	for _, t := range tids {
		e, s := b[t], a[t]
		dd := func(k string) float64 { return e.f[k] - s.f[k] }
		ms, vol := dd("se.sum_exec_runtime"), dd("nr_voluntary_switches")
		fmt.Fprintf(w, "RT NOTE %s: uiodrv thread %d %q policy %.0f prio %.0f cpus %s last_cpu %s cpu_ms %.1f ticks %d wakeups %.0f involuntary %.0f migrations %.0f over %.1fs\n",
			tag, t, e.comm, e.f["policy"], e.f["prio"], e.cpus, e.lastCPU, ms, e.ticks-s.ticks, vol,
			dd("nr_involuntary_switches"), dd("se.nr_migrations"), d.Seconds())
		cpu, wake, ticks = cpu+ms, wake+vol, ticks+(e.ticks-s.ticks)
		if mayRunOn0(e.cpus) {
			cpu0, wake0 = cpu0+ms, wake0+vol
		}
	}
	return fmt.Sprintf(" ucpu_ms=%.1f ucpu0_ms=%.1f uwake=%.0f uwake0=%.0f uticks=%d uthreads=%d", cpu, cpu0, wake, wake0, ticks, len(tids))
}
