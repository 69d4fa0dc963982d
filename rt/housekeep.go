package rt

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Housekeeping CPUs.
//
// Every executor pins its own threads (or, for a deadline class, places one
// and leaves its mask whole, as the kernel demands). The rest of the process
// is not pinned: the Go runtime's threads (sysmon, the garbage collector's
// workers, idle and spare Ms, the template thread that starts new Ms) and
// the application's own. They run little, but on every CPU, the real-time
// task's included, where each wake-up is a context switch and an IPI on the
// task's CPU. The kernel's answer is the same (isolcpus/nohz_full's
// housekeeping CPUs): keep whatever need not run on an isolated CPU on the
// others.

// Housekeep moves every thread of the process that no executor pinned to
// cpus, and returns how many it moved. Call it once the executors are up:
// threads created later inherit the mask of the thread that creates them,
// which is a moved thread (or, for a locked thread's request, the runtime's
// template thread, moved too). Left alone: threads pinned to a single CPU
// (pinned executors; pin yours before calling), and SCHED_DEADLINE threads,
// which the kernel only admits with a mask spanning their root domain. cpus
// is checked before anything moves.
func Housekeep(cpus []int) (int, error) {
	if len(cpus) == 0 {
		return 0, errors.New("rt: housekeeping needs at least one CPU")
	}
	var set unix.CPUSet
	for _, c := range cpus {
		if c < 0 || c >= NumCPU() {
			return 0, fmt.Errorf("rt: housekeeping CPU %d not in 0..%d", c, NumCPU()-1)
		}
		set.Set(c)
	}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, fmt.Errorf("rt: housekeeping: %w", err)
	}
	moved := 0
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var cur unix.CPUSet
		if unix.SchedGetaffinity(tid, &cur) != nil || cur.Count() < 2 || cur == set {
			continue // exited, pinned, or already there
		}
		if a, err := unix.SchedGetAttr(tid, 0); err == nil && a.Policy == unix.SCHED_DEADLINE {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			if err == unix.ESRCH {
				continue
			}
			return moved, fmt.Errorf("rt: housekeeping: thread %d: sched_setaffinity: %w", tid, err)
		}
		moved++
	}
	return moved, nil
}
