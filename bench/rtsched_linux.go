package bench

import (
	"fmt"
	"io"
	"os"

	"github.com/uiodrv/uiodrv/rt"
)

// applyHRTickDL sets the guest kernel's HRTICK_DL scheduler feature from
// UIODRV_HRTICK_DL (1: on, 0: off, unset: left as it is) and reports the
// state in an RT NOTE line: with it on, the kernel throttles a deadline
// bottom half when its runtime is used, not up to a tick (4 ms) later
// (rt/hrtick.go).
func applyHRTickDL(w io.Writer) {
	v, set := os.LookupEnv("UIODRV_HRTICK_DL")
	if set {
		if err := setSchedFeature(rt.HRTickDL, v == "1"); err != nil {
			fmt.Fprintf(w, "RT NOTE HRTICK_DL: %v\n", err)
		}
	}
	on, err := rt.SchedFeature(rt.HRTickDL)
	if err != nil {
		fmt.Fprintf(w, "RT NOTE HRTICK_DL: %v\n", err)
		return
	}
	fmt.Fprintf(w, "RT NOTE HRTICK_DL %v\n", on)
}

// setSchedFeature turns the scheduler feature name on or off, system-wide
// (root, debugfs mounted), for an experiment. It checks the result.
func setSchedFeature(name string, on bool) error {
	if _, err := rt.SchedFeature(name); err != nil {
		return err
	}
	w := name
	if !on {
		w = "NO_" + name
	}
	if err := os.WriteFile(rt.SchedFeaturesPath, []byte(w), 0); err != nil {
		return fmt.Errorf("write %s to %s: %w", w, rt.SchedFeaturesPath, err)
	}
	got, err := rt.SchedFeature(name)
	if err != nil {
		return err
	}
	if got != on {
		return fmt.Errorf("%s still %v after writing %s", name, got, w)
	}
	return nil
}
