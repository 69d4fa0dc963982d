package rt

import "testing"

func TestParseSchedFeature(t *testing.T) {
	text := "GENTLE_FAIR_SLEEPERS START_DEBIT NO_HRTICK HRTICK_DL NO_DOUBLE_TICK\n"
	for _, c := range []struct {
		name string
		on   bool
		err  bool
	}{
		{"HRTICK_DL", true, false},
		{"HRTICK", false, false},
		{"DOUBLE_TICK", false, false},
		{"TICK", false, true}, // a suffix of NO_HRTICK, not a feature
	} {
		on, err := parseSchedFeature(text, c.name)
		if on != c.on || (err != nil) != c.err {
			t.Errorf("%s: %v, %v; want %v, error %v", c.name, on, err, c.on, c.err)
		}
	}
}
