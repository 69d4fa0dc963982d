package rt

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcThreadPolicy reads a thread's scheduling policy (unix.SCHED_*) and
// real-time priority from /proc/PID/task/TID/stat (fields 41 and 40, see
// proc(5)); pid 0 means this process. It is what ps -L -o policy shows, read
// the way an outside observer reads it.
func ProcThreadPolicy(pid, tid int) (policy, rtPrio int, err error) {
	return procStatSched(pid, tid)
}

func procStatSched(pid, tid int) (policy, rtPrio int, err error) {
	p := "self"
	if pid > 0 {
		p = strconv.Itoa(pid)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%s/task/%d/stat", p, tid))
	if err != nil {
		return 0, 0, err
	}
	// comm (field 2) may hold spaces and parentheses: fields restart after
	// the last ')'; field 3 is then index 0.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%s/task/%d/stat: no comm", p, tid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 41-2 {
		return 0, 0, fmt.Errorf("/proc/%s/task/%d/stat: %d fields", p, tid, len(f)+2)
	}
	if rtPrio, err = strconv.Atoi(f[40-3]); err != nil {
		return 0, 0, err
	}
	if policy, err = strconv.Atoi(f[41-3]); err != nil {
		return 0, 0, err
	}
	return policy, rtPrio, nil
}
