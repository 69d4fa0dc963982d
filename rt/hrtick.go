package rt

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// When the kernel enforces a SCHED_DEADLINE runtime.
//
// A deadline task's runtime is charged in update_curr_dl, which throttles
// the task once the runtime is used. That runs at every scheduler event of
// its CPU and at the scheduler tick (task_tick_dl); only with the HRTICK_DL
// scheduler feature does set_next_task_dl also arm an hrtimer for the
// runtime left (start_hrtick_dl). The feature is off by default
// (kernel/sched/features.h: SCHED_FEAT(HRTICK_DL, false)) and exists only
// with CONFIG_SCHED_HRTICK (Debian: yes). Without it, on a HZ=250 kernel
// (Debian's) a deadline thread that keeps running overruns its runtime by up
// to a tick, 4 ms, before it is throttled: a FIFO task on its CPU waits that
// long, whatever the reservation says. It is switched at run time through
// debugfs (CONFIG_SCHED_DEBUG): writing "HRTICK_DL" or "NO_HRTICK_DL" to
// SchedFeaturesPath. The package only reads it: the switch is system-wide,
// the administrator's to turn.

// SchedFeaturesPath is the kernel's scheduler feature switch (debugfs).
const SchedFeaturesPath = "/sys/kernel/debug/sched/features"

// HRTickDL is the scheduler feature that enforces deadline runtimes with an
// hrtimer instead of the tick.
const HRTickDL = "HRTICK_DL"

// ErrNoSchedFeatures is returned (wrapped) when SchedFeaturesPath cannot be
// read: debugfs not mounted (mount -t debugfs none /sys/kernel/debug), or a
// kernel without CONFIG_SCHED_DEBUG.
var ErrNoSchedFeatures = errors.New("rt: scheduler features not readable")

// SchedFeature reports whether the scheduler feature name (e.g. HRTickDL)
// is on (root, debugfs mounted). A name the kernel does not list (CONFIG_SCHED_HRTICK off) is an
// error.
func SchedFeature(name string) (bool, error) {
	b, err := os.ReadFile(SchedFeaturesPath)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrNoSchedFeatures, err)
	}
	return parseSchedFeature(string(b), name)
}

// parseSchedFeature finds name in the features file's text: "NAME" when on,
// "NO_NAME" when off.
func parseSchedFeature(text, name string) (bool, error) {
	for _, f := range strings.Fields(text) {
		switch f {
		case name:
			return true, nil
		case "NO_" + name:
			return false, nil
		}
	}
	return false, fmt.Errorf("rt: scheduler feature %s not in %s (kernel without CONFIG_SCHED_HRTICK?)", name, SchedFeaturesPath)
}
