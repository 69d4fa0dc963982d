package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uiodrv/uiodrv/qemu"
)

// The probes of the real-time scenario (GuestPlan.RTProbe).
const (
	// ProbeCyclictest is Debian's cyclictest (rt-tests), a process of its
	// own: the standard probe, the one FACTS.md's kernel figures come from,
	// sharing no Go runtime with the driver under test.
	ProbeCyclictest = "cyclictest"
	// ProbeGo is internal/rtprobe in the guest test process (uiodrv rt's
	// probe): it never skips a release, so one 50 ms stall is 50 misses where
	// cyclictest counts one late wake-up.
	ProbeGo = "go"
)

// cyclictestRange is the histogram's range in µs: wider than any stall seen
// in the lab, so that every wake-up has its bucket (beyond: overflows).
const cyclictestRange = 100000

// RunCyclictest runs cyclictest with one thread pinned to o.CPU at SCHED_FIFO
// o.Prio, interval o.Period, for o.Duration (whole seconds, rounded up), and
// reads its histogram. Misses are wake-ups at least one period late
// (cyclictest's latency >= period): what cyclictest's users count as
// "over 1 ms". Jobs are cyclictest's loops; unlike the Go probe it skips the
// releases a late wake-up overran, so Jobs can fall short of
// Duration/Period. o.Work must be 0: cyclictest has no job.
func RunCyclictest(bin string, o PeriodicOptions) (*PeriodicResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Work != 0 {
		return nil, fmt.Errorf("cyclictest: a job of %v: cyclictest only sleeps (use the go probe)", o.Work)
	}
	if bin == "" {
		bin = qemu.CyclictestGuest
	}
	dir, err := os.MkdirTemp("", "cyclictest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	hist := filepath.Join(dir, "hist")
	secs := int((o.Duration + time.Second - 1) / time.Second)
	args := []string{"-m", "-q", "-t1", "-a", strconv.Itoa(o.CPU), "-p", strconv.Itoa(o.Prio),
		"-i", strconv.FormatInt(o.Period.Microseconds(), 10), "-D", strconv.Itoa(secs),
		"-h", strconv.Itoa(cyclictestRange), "--histfile=" + hist}
	start := time.Now()
	cmd := exec.Command(bin, args...)
	if probeCgroupFD >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: probeCgroupFD}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, lastBytes(string(out), 400))
	}
	b, err := os.ReadFile(hist)
	if err != nil {
		return nil, fmt.Errorf("cyclictest histogram: %w", err)
	}
	r, err := parseCyclictestHist(b, o.Period)
	if err != nil {
		return nil, err
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

// parseCyclictestHist reads a one-thread cyclictest histogram file (-h N
// --histfile): "BUCKET COUNT" lines in µs, then "# Total:", "# Max
// Latencies:", "# Histogram Overflows:" comments.
func parseCyclictestHist(b []byte, period time.Duration) (*PeriodicResult, error) {
	r := &PeriodicResult{}
	var total, overflows, maxUS int64 = -1, -1, -1
	limit := period.Microseconds()
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		if c, ok := strings.CutPrefix(l, "#"); ok {
			k, v, ok := strings.Cut(c, ":")
			if !ok {
				continue
			}
			f := strings.Fields(v)
			if len(f) == 0 {
				continue
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				continue
			}
			switch strings.TrimSpace(k) {
			case "Total":
				total = n
			case "Max Latencies":
				maxUS = n
			case "Histogram Overflows":
				overflows = n
			}
			continue
		}
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		us, err1 := strconv.ParseInt(f[0], 10, 64)
		n, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("cyclictest histogram: line %q", l)
		}
		for range n {
			r.Wakeup.Record(us*1000 + 500) // the bucket's middle, ns
		}
		if us >= limit {
			r.Misses += uint64(n)
		}
		if 2*us >= limit {
			r.Late += uint64(n)
		}
	}
	if total < 0 || overflows < 0 || maxUS < 0 {
		return nil, fmt.Errorf("cyclictest histogram: no Total, Max Latencies or Histogram Overflows line in %d bytes", len(b))
	}
	// Overflows lie beyond the range: count them, at the maximum.
	for range overflows {
		r.Wakeup.Record(maxUS * 1000)
	}
	r.Misses += uint64(overflows)
	r.Late += uint64(overflows)
	r.Jobs = uint64(total)
	return r, nil
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
