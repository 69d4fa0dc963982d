package drivertest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/deferral"
)

// Thread is one thread of this process as /proc shows it.
type Thread struct {
	TID      int
	Name     string // comm
	LastCPU  int    // the CPU it last ran on (/proc/.../stat field 39)
	Affinity []int  // sched_getaffinity
}

// Threads lists the threads of this process.
func Threads() ([]Thread, error) {
	dirs, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		return nil, err
	}
	var ts []Thread
	for _, d := range dirs {
		tid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue // the thread ended
		}
		// comm may hold spaces and parentheses: fields count from the last ')'.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		j := strings.IndexByte(s, '(')
		if i < 0 || j < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
		const lastCPUField = 39
		if len(f) < lastCPUField-2 {
			continue
		}
		last, _ := strconv.Atoi(f[lastCPUField-3])
		t := Thread{TID: tid, Name: s[j+1 : i], LastCPU: last}
		var set unix.CPUSet
		if unix.SchedGetaffinity(tid, &set) == nil {
			for c := 0; c < 1024; c++ {
				if set.IsSet(c) {
					t.Affinity = append(t.Affinity, c)
				}
			}
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// QueueThreadPatterns are the names of queue q's threads under a
// driver.Port in mode m, on core cpu: its top half ("irq-uqQ") and the
// threads its bottom half runs on. Tasklet, softirq and NAPI bottom halves
// run on the top half's thread or its ksoftirqd ("ksoftirqd/uqQ"); the
// threaded mode's IRQ thread is "irq/N-uqQ"; the workqueue mode's workers
// are the bound pool's "kworker/CPU:N"; the busy poller is "poll-uqQ".
func QueueThreadPatterns(m deferral.Mode, q, cpu int) (topHalf string, bottomHalf []string) {
	top := fmt.Sprintf(`^irq-uq%d$`, q)
	switch m {
	case deferral.ModeThreaded:
		return top, []string{fmt.Sprintf(`^irq/\d+-uq%d$`, q)}
	case deferral.ModeWorkqueue:
		return top, []string{fmt.Sprintf(`^kworker/%d:\d+$`, cpu)}
	case deferral.ModeBusyPoll:
		return top, []string{fmt.Sprintf(`^poll-uq%d$`, q)}
	}
	return top, []string{fmt.Sprintf(`^ksoftirqd/uq%d$`, q)} // and the top half's thread
}

// CheckQueueThreads checks, while a driver.Port runs in mode m with queue
// q on core cpus[q], that each queue's top-half thread and bottom-half
// threads exist, are pinned to that core alone, and last ran there. It
// returns one line per queue describing what it found.
func CheckQueueThreads(m deferral.Mode, cpus []int) ([]string, error) {
	ts, err := Threads()
	if err != nil {
		return nil, err
	}
	var lines []string
	for q, cpu := range cpus {
		top, bh := QueueThreadPatterns(m, q, cpu)
		var found []string
		for _, pat := range append([]string{top}, bh...) {
			re := regexp.MustCompile(pat)
			n := 0
			for _, t := range ts {
				if !re.MatchString(t.Name) {
					continue
				}
				n++
				if cpu >= 0 && (len(t.Affinity) != 1 || t.Affinity[0] != cpu || t.LastCPU != cpu) {
					return lines, fmt.Errorf("queue %d (CPU %d): thread %s (tid %d) has affinity %v and last ran on CPU %d",
						q, cpu, t.Name, t.TID, t.Affinity, t.LastCPU)
				}
				found = append(found, fmt.Sprintf("%s[%d]@%d", t.Name, t.TID, t.LastCPU))
			}
			if n == 0 {
				return lines, fmt.Errorf("queue %d (CPU %d): no thread named like %s", q, cpu, pat)
			}
		}
		lines = append(lines, fmt.Sprintf("queue %d on CPU %d: %s", q, cpu, strings.Join(found, " ")))
	}
	return lines, nil
}
