package rtprobe

import (
	"errors"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/rt"
)

func TestValidate(t *testing.T) {
	ok := Options{CPU: 0, Prio: 80, Period: time.Millisecond, Work: 100 * time.Microsecond, Duration: time.Second}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(*Options){
		func(o *Options) { o.Prio = 0 },
		func(o *Options) { o.Prio = 100 },
		func(o *Options) { o.Period = 0 },
		func(o *Options) { o.Work = o.Period },
		func(o *Options) { o.Work = -1 },
		func(o *Options) { o.Duration = o.Period / 2 },
		func(o *Options) { o.CPU = -1 },
		func(o *Options) { o.CPU = 4096 },
	} {
		o := ok
		f(&o)
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
		if _, err := Run(o); err == nil {
			t.Errorf("Run(%+v) accepted", o)
		}
	}
}

// TestRun runs the probe for 300 periods: every release is a job (none is
// skipped), each is timed, and the latencies are ordered.
func TestRun(t *testing.T) {
	o := Options{CPU: 0, Prio: 80, Period: time.Millisecond, Work: 50 * time.Microsecond, Duration: 300 * time.Millisecond}
	r, err := Run(o)
	if errors.Is(err, rt.ErrRTNotPermitted) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Jobs != 300 || r.Wakeup.Count() != 300 {
		t.Errorf("jobs %d, wake-ups timed %d; want 300 each", r.Jobs, r.Wakeup.Count())
	}
	p50, p99, mx := r.Wakeup.Quantile(0.5), r.Wakeup.Quantile(0.99), r.Wakeup.Max()
	if p50 < 0 || p50 > p99 || p99 > mx || r.Misses > r.Jobs {
		t.Errorf("p50 %d p99 %d max %d misses %d: not ordered", p50, p99, mx, r.Misses)
	}
	if r.Elapsed < o.Duration-o.Period {
		t.Errorf("elapsed %v, want about %v", r.Elapsed, o.Duration)
	}
	t.Logf("misses %d, wake-up p50 %v p99 %v max %v", r.Misses, time.Duration(p50), time.Duration(p99), time.Duration(mx))
}
