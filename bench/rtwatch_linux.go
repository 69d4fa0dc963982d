package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The hang watchdog of the real-time scenario. A run that never reports may
// be the Go runtime itself stuck (a stop-the-world that cannot finish, a
// spinning real-time thread): no goroutine of the process can then be
// trusted to notice. So the watchdog is another process (this test binary
// again, TestGuestRTWatchdog), which, if the scenario outlives its bound,
// prints where every thread of it is (scheduling policy, state, CPU, kernel
// wait channel and stack, CPU time) twice a second apart, then sends it
// SIGQUIT: with traceback level "system" the runtime prints every goroutine,
// its own included, and exits.

// Environment of the watchdog process.
const (
	envWatchPID   = "BENCH_WATCH_PID"
	envWatchAfter = "BENCH_WATCH_AFTER"
)

// StartWatchdog starts the watchdog of this process: after `after` it dumps
// the threads and SIGQUITs us. The returned stop ends it (call it when the run
// reported). It also sets the traceback level so that SIGQUIT prints every
// goroutine, runtime ones included.
func StartWatchdog(after time.Duration) (stop func(), err error) {
	debug.SetTraceback("system")
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-test.v", "-test.count=1", "-test.run", "^TestGuestRTWatchdog$")
	cmd.Env = append(os.Environ(), envWatchPID+"="+strconv.Itoa(os.Getpid()), envWatchAfter+"="+after.String())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start watchdog: %w", err)
	}
	return func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }, nil
}

// runWatchdog is the watchdog process's body.
func runWatchdog(w io.Writer) error {
	pid, err := strconv.Atoi(os.Getenv(envWatchPID))
	if err != nil {
		return fmt.Errorf("%s: %w", envWatchPID, err)
	}
	after, err := time.ParseDuration(os.Getenv(envWatchAfter))
	if err != nil {
		return fmt.Errorf("%s: %w", envWatchAfter, err)
	}
	time.Sleep(after)
	if syscall.Kill(pid, 0) != nil {
		return nil
	}
	fmt.Fprintf(w, "RT HANG pid %d still running after %v; threads:\n", pid, after)
	DumpThreads(w, pid)
	time.Sleep(time.Second)
	fmt.Fprintf(w, "RT HANG threads one second later:\n")
	DumpThreads(w, pid)
	fmt.Fprintf(w, "RT HANG sending SIGQUIT to %d (goroutine dump follows on its stderr)\n", pid)
	return syscall.Kill(pid, syscall.SIGQUIT)
}

var policyNames = map[int]string{0: "OTHER", 1: "FIFO", 2: "RR", 3: "BATCH", 5: "IDLE", 6: "DEADLINE"}

// DumpThreads prints one line per thread of pid: tid, comm, state, policy and
// RT priority, the CPU it last ran on, utime+stime ticks, context switches,
// wchan, and its kernel stack.
func DumpThreads(w io.Writer, pid int) {
	dirs, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		comm := s[open+1 : end]
		f := strings.Fields(s[end+1:]) // f[0] is field 3 (state)
		field := func(n int) string {
			if n-3 < len(f) {
				return f[n-3]
			}
			return "?"
		}
		pol, _ := strconv.Atoi(field(41))
		wchan, _ := os.ReadFile(d + "/wchan")
		var vol, invol string
		if st, err := os.ReadFile(d + "/status"); err == nil {
			for _, l := range strings.Split(string(st), "\n") {
				if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
					vol = strings.TrimSpace(v)
				} else if v, ok := strings.CutPrefix(l, "nonvoluntary_ctxt_switches:"); ok {
					invol = strings.TrimSpace(v)
				}
			}
		}
		fmt.Fprintf(w, "RT HANG tid %s %-16q state %s %s/%s cpu %s utime %s stime %s vcsw %s ivcsw %s wchan %s\n",
			filepath.Base(d), comm, field(3), policyNames[pol], field(40), field(39), field(14), field(15), vol, invol, wchan)
		if st, err := os.ReadFile(d + "/stack"); err == nil {
			for _, l := range strings.Split(strings.TrimSpace(string(st)), "\n") {
				fmt.Fprintf(w, "RT HANG     %s\n", l)
			}
		}
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(w, "RT HANG loadavg %s", la)
	}
}
