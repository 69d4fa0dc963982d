package deferral

import (
	"fmt"
	"strings"
)

// Mode is a bottom-half mechanism, selectable on the command line.
type Mode int

const (
	ModeTasklet   Mode = iota // a tasklet on the top half's CPU (TASKLET softirq)
	ModeSoftirq               // a softirq vector of its own (NET_RX by default)
	ModeWorkqueue             // a work item on a bound, high-priority workqueue
	ModeThreaded              // a threaded-IRQ thread (SCHED_FIFO 50)
	ModeNAPI                  // NAPI polling from NET_RX with budget and re-enable
	ModeBusyPoll              // no interrupts: a thread polls continuously (DPDK-style)
	ModeAdaptive              // interrupts when quiet, polling under load (adaptive.go)
	numModes
)

var modeNames = [numModes]string{"tasklet", "softirq", "workqueue", "threaded", "napi", "busypoll", "adaptive"}

// Modes lists every mode in order.
func Modes() []Mode {
	m := make([]Mode, numModes)
	for i := range m {
		m[i] = Mode(i)
	}
	return m
}

// String returns the mode's command-line name.
func (m Mode) String() string {
	if m < 0 || m >= numModes {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// ParseMode parses a command-line name (case-insensitive).
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("deferral: unknown mode %q (valid: %s)", s, strings.Join(modeNames[:], ", "))
}

// Set implements flag.Value.
func (m *Mode) Set(s string) error {
	v, err := ParseMode(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MarshalText and UnmarshalText make Mode usable in flags and config files.
func (m Mode) MarshalText() ([]byte, error)  { return []byte(m.String()), nil }
func (m *Mode) UnmarshalText(b []byte) error { return m.Set(string(b)) }
