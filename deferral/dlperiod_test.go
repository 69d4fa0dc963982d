package deferral

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/rt"
)

// TestDeadlineKeepsIRQMaskedWhileWorkFlows: under a deadline class a round
// that found work is followed by another one period later instead of a
// re-enable; the first empty round re-enables. Under any other class a
// short round re-enables at once. The function runs on a plain goroutine,
// so the period wait is only a sched_yield here: what is checked is the
// order of polls and re-enables, not the period.
func TestDeadlineKeepsIRQMaskedWhileWorkFlows(t *testing.T) {
	dl := rt.Deadline(200*time.Microsecond, time.Millisecond, time.Millisecond)
	for _, c := range []struct {
		name  string
		sched rt.Sched
		item  bool
		want  string
	}{
		{"threaded deadline", dl, false, "PPPPR"},
		{"threaded fifo", rt.FIFO(50), false, "PR"},
		{"workqueue deadline", dl, true, "PqPqPqPR"},
		{"workqueue fifo", rt.FIFO(50), true, "PR"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Short rounds: 3 with work, then nothing.
			left := 3
			var trace []byte
			o := ExecutorOptions{Weight: 64, Sched: c.sched, Poll: func(int) int {
				trace = append(trace, 'P')
				if left == 0 {
					return 0
				}
				left--
				return 1
			}}
			var closed atomic.Bool
			reenable := func() { trace = append(trace, 'R') }
			before := rt.PeriodWaits()
			if c.item {
				requeued := true
				var fn func()
				fn = workItem(o, &closed, func() { trace = append(trace, 'q'); requeued = true }, reenable)
				for requeued && len(trace) < 32 {
					requeued = false
					fn()
				}
			} else {
				threadedPoll(o, &closed, reenable)()
			}
			if got := string(trace); got != c.want {
				t.Errorf("polls and re-enables %q, want %q", got, c.want)
			}
			waits := rt.PeriodWaits() - before
			if want := uint64(0); c.sched.Policy == rt.PolicyDeadline {
				want = 3
				if waits != want {
					t.Errorf("period waits %d, want %d", waits, want)
				}
			} else if waits != want {
				t.Errorf("period waits %d, want 0", waits)
			}
		})
	}
}
