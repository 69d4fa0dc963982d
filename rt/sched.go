package rt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Policy is a thread scheduling policy.
type Policy int

const (
	// PolicyDefault leaves the choice to the caller (the deferral package:
	// each mode's own class); a thread given it runs SCHED_OTHER at nice 0.
	PolicyDefault Policy = iota
	// PolicyOther is SCHED_OTHER (CFS) at Sched.Nice.
	PolicyOther
	// PolicyFIFO is SCHED_FIFO at Sched.Prio: the thread runs until it
	// blocks, bounded only by the kernel's RT throttling
	// (sched_rt_runtime_us, 950 ms per second by default, for every RT task
	// of the CPU at once).
	PolicyFIFO
	// PolicyDeadline is SCHED_DEADLINE: the thread gets Runtime of CPU in
	// every Period, used before Deadline after each wake-up, and is stopped
	// (throttled) when it used its Runtime, until the next period. The
	// kernel admits it only if the sum of runtime/period of all deadline
	// tasks of its root domain stays under sched_rt_runtime_us /
	// sched_rt_period_us per CPU, so its share of the CPU is bounded by
	// admission control instead of RT throttling. Deadline tasks run before
	// every SCHED_FIFO task, and cannot be pinned (see Sched).
	PolicyDeadline
)

var policyNames = [...]string{"default", "other", "fifo", "deadline"}

// String returns the policy's command-line name.
func (p Policy) String() string {
	if p < 0 || int(p) >= len(policyNames) {
		return fmt.Sprintf("Policy(%d)", int(p))
	}
	return policyNames[p]
}

// SchedForms lists the forms ParseSched accepts, for error messages and help.
const SchedForms = "fifo:PRIO (1-99), deadline:RUNTIME/PERIOD (deadline = period), " +
	"deadline:RUNTIME/DEADLINE/PERIOD, each deadline form optionally @CPU (the CPU it starts on; not pinned), or other; " +
	"e.g. fifo:50, deadline:200us/1ms, deadline:200us/800us/1ms, deadline:200us/1ms@1"

// Kernel bounds of SCHED_DEADLINE parameters (kernel/sched/deadline.c
// __checkparam_dl): the runtime is kept in units of 2^DL_SCALE ns, and the
// period must lie within sched_deadline_period_{min,max}_us (defaults 100 µs
// and 2^22 µs). A system may change the period bounds; the kernel's EINVAL is
// then mapped to ErrSchedInvalid.
const (
	MinDeadlineRuntime = 1024 * time.Nanosecond
	MinDeadlinePeriod  = 100 * time.Microsecond
	MaxDeadlinePeriod  = (1 << 22) * time.Microsecond
)

// Sched is the scheduling class of a thread. The zero value is PolicyDefault.
//
// CPU pinning: the kernel refuses sched_setattr(SCHED_DEADLINE) with EPERM for
// a thread whose affinity does not span its whole root domain, and refuses
// sched_setaffinity with EBUSY for a deadline thread when the new mask does
// not (kernel/sched/core.c: __sched_setscheduler, dl_task_check_affinity):
// admission control is per root domain, and global EDF must be free to move
// the thread to any CPU of it. A deadline thread therefore runs on every CPU
// the process may use; the package widens the thread's affinity to the
// process's mask before sched_setattr and ignores ThreadAttrs.CPU. To keep
// a deadline thread on one CPU, give that CPU a root domain of its own
// (an exclusive cpuset partition: cgroup v2 cpuset.cpus.partition=root, or
// isolcpus) and run the process in it.
type Sched struct {
	Policy Policy
	// Prio is the SCHED_FIFO priority, 1..99.
	Prio int
	// Nice is the SCHED_OTHER nice value, -20..19.
	Nice int
	// Runtime, Deadline and Period are the SCHED_DEADLINE reservation:
	// Runtime <= Deadline <= Period.
	Runtime, Deadline, Period time.Duration
	// Start, for PolicyDeadline, is 1 + the CPU the thread is placed on
	// before it becomes a deadline thread (the form's "@CPU" suffix; 0: it
	// stays where it was created). Placed, not pinned: its mask still
	// spans the root domain, and the kernel keeps a deadline thread on the
	// CPU it last ran on as long as no deadline task there outranks it
	// when it wakes (select_task_rq_dl) and no CPU is overloaded with
	// deadline tasks (push/pull). On 6.1 one deadline thread placed on a
	// CPU without a real-time task stayed off that task's CPU; on a 7.2
	// PREEMPT_RT kernel it migrated about once a period. Only a root domain
	// of its own (a cpuset partition) keeps it there.
	Start int
}

// StartCPU is the CPU a deadline thread is placed on (Start), if any.
func (s Sched) StartCPU() (int, bool) {
	if s.Policy != PolicyDeadline || s.Start <= 0 {
		return 0, false
	}
	return s.Start - 1, true
}

// FIFO returns SCHED_FIFO at prio.
func FIFO(prio int) Sched { return Sched{Policy: PolicyFIFO, Prio: prio} }

// Deadline returns SCHED_DEADLINE with runtime, deadline and period.
func Deadline(runtime, deadline, period time.Duration) Sched {
	return Sched{Policy: PolicyDeadline, Runtime: runtime, Deadline: deadline, Period: period}
}

// IsZero reports whether s is PolicyDefault (leave the mode's choice).
func (s Sched) IsZero() bool { return s.Policy == PolicyDefault }

// Bandwidth is the share of one CPU a deadline reservation may use
// (Runtime/Period); 0 for other policies.
func (s Sched) Bandwidth() float64 {
	if s.Policy != PolicyDeadline || s.Period <= 0 {
		return 0
	}
	return float64(s.Runtime) / float64(s.Period)
}

// String returns s in the form ParseSched reads.
func (s Sched) String() string {
	switch s.Policy {
	case PolicyDefault:
		return "default"
	case PolicyOther:
		if s.Nice != 0 {
			return "other:" + strconv.Itoa(s.Nice)
		}
		return "other"
	case PolicyFIFO:
		return "fifo:" + strconv.Itoa(s.Prio)
	case PolicyDeadline:
		at := ""
		if cpu, ok := s.StartCPU(); ok {
			at = "@" + strconv.Itoa(cpu)
		}
		if s.Deadline == s.Period {
			return fmt.Sprintf("deadline:%v/%v%s", s.Runtime, s.Period, at)
		}
		return fmt.Sprintf("deadline:%v/%v/%v%s", s.Runtime, s.Deadline, s.Period, at)
	}
	return s.Policy.String()
}

// ParseSched parses fifo:PRIO, deadline:RUNTIME/PERIOD,
// deadline:RUNTIME/DEADLINE/PERIOD, other or other:NICE (case-insensitive;
// durations as time.ParseDuration reads them: 200us, 1ms). The result is
// validated (see Validate).
func ParseSched(str string) (Sched, error) {
	bad := func(why string) (Sched, error) {
		return Sched{}, fmt.Errorf("%w: %q: %s; valid forms: %s", ErrSchedInvalid, str, why, SchedForms)
	}
	name, arg, hasArg := strings.Cut(strings.ToLower(strings.TrimSpace(str)), ":")
	var s Sched
	start := 0 // deadline's @CPU
	switch name {
	case "default":
		if hasArg {
			return bad("default takes no argument")
		}
		return s, nil
	case "other":
		s.Policy = PolicyOther
		if hasArg {
			n, err := strconv.Atoi(arg)
			if err != nil {
				return bad("nice is not a number")
			}
			s.Nice = n
		}
	case "fifo":
		if !hasArg {
			return bad("fifo needs a priority")
		}
		n, err := strconv.Atoi(arg)
		if err != nil {
			return bad("priority is not a number")
		}
		s = FIFO(n)
	case "deadline":
		if a, cpu, ok := strings.Cut(arg, "@"); ok {
			n, err := strconv.Atoi(cpu)
			if err != nil || n < 0 {
				return bad(fmt.Sprintf("@%s is not a CPU number", cpu))
			}
			arg, start = a, n+1
		}
		parts := strings.Split(arg, "/")
		if !hasArg || len(parts) < 2 || len(parts) > 3 {
			return bad("deadline needs RUNTIME/PERIOD or RUNTIME/DEADLINE/PERIOD")
		}
		ds := make([]time.Duration, len(parts))
		for i, p := range parts {
			d, err := time.ParseDuration(p)
			if err != nil {
				return bad(fmt.Sprintf("%q is not a duration", p))
			}
			ds[i] = d
		}
		if len(ds) == 2 {
			s = Deadline(ds[0], ds[1], ds[1])
		} else {
			s = Deadline(ds[0], ds[1], ds[2])
		}
	default:
		return bad("unknown policy")
	}
	s.Start = start
	if err := s.Validate(); err != nil {
		return Sched{}, fmt.Errorf("%w; valid forms: %s", err, SchedForms)
	}
	return s, nil
}

// ErrSchedInvalid is returned (wrapped) for scheduling parameters the kernel
// would refuse with EINVAL, found before any thread is touched.
var ErrSchedInvalid = errors.New("rt: invalid scheduling parameters")

// Validate checks s against the kernel's rules (__checkparam_dl and the
// priority ranges) without a system call.
func (s Sched) Validate() error {
	switch s.Policy {
	case PolicyDefault:
		return nil
	}
	if s.Start != 0 && s.Policy != PolicyDeadline {
		return fmt.Errorf("%w: a start CPU (@N) is for deadline threads (pin others)", ErrSchedInvalid)
	}
	switch s.Policy {
	case PolicyOther:
		if s.Nice < -20 || s.Nice > 19 {
			return fmt.Errorf("%w: nice %d not in -20..19", ErrSchedInvalid, s.Nice)
		}
	case PolicyFIFO:
		if s.Prio < 1 || s.Prio > 99 {
			return fmt.Errorf("%w: SCHED_FIFO priority %d not in 1..99", ErrSchedInvalid, s.Prio)
		}
	case PolicyDeadline:
		switch {
		case s.Runtime < MinDeadlineRuntime:
			return fmt.Errorf("%w: deadline runtime %v below the kernel's %v", ErrSchedInvalid, s.Runtime, MinDeadlineRuntime)
		case s.Runtime > s.Deadline || s.Deadline > s.Period:
			return fmt.Errorf("%w: deadline:%v/%v/%v: want runtime <= deadline <= period", ErrSchedInvalid, s.Runtime, s.Deadline, s.Period)
		case s.Period < MinDeadlinePeriod || s.Period > MaxDeadlinePeriod:
			return fmt.Errorf("%w: deadline period %v not within the kernel's %v..%v (sched_deadline_period_{min,max}_us)",
				ErrSchedInvalid, s.Period, MinDeadlinePeriod, MaxDeadlinePeriod)
		case s.Start < 0:
			return fmt.Errorf("%w: start CPU %d", ErrSchedInvalid, s.Start-1)
		}
	default:
		return fmt.Errorf("%w: unknown policy %v", ErrSchedInvalid, s.Policy)
	}
	return nil
}

// Set implements flag.Value (and pflag.Value with Type).
func (s *Sched) Set(str string) error {
	v, err := ParseSched(str)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Type names the flag's value for pflag's help.
func (s *Sched) Type() string { return "sched" }

// MarshalText and UnmarshalText make Sched usable in config files.
func (s Sched) MarshalText() ([]byte, error)  { return []byte(s.String()), nil }
func (s *Sched) UnmarshalText(b []byte) error { return s.Set(string(b)) }
