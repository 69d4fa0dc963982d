package bench

import (
	"fmt"
	"io"
	"os"

	"github.com/uiodrv/uiodrv/deferral"
)

// applyHRTickDL sets the guest kernel's HRTICK_DL scheduler feature from
// UIODRV_HRTICK_DL (1: on, 0: off, unset: left as it is) and reports the
// state in an RT NOTE line: with it on, the kernel throttles a deadline
// bottom half when its runtime is used, not up to a tick (4 ms) later
// (deferral/hrtick.go).
func applyHRTickDL(w io.Writer) {
	v, set := os.LookupEnv("UIODRV_HRTICK_DL")
	if set {
		if err := deferral.SetSchedFeature(deferral.HRTickDL, v == "1"); err != nil {
			fmt.Fprintf(w, "RT NOTE HRTICK_DL: %v\n", err)
		}
	}
	on, err := deferral.SchedFeature(deferral.HRTickDL)
	if err != nil {
		fmt.Fprintf(w, "RT NOTE HRTICK_DL: %v\n", err)
		return
	}
	fmt.Fprintf(w, "RT NOTE HRTICK_DL %v\n", on)
}
