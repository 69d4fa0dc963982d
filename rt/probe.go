package rt

import (
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/internal/osthread"
)

// ProbeSched asks the kernel now whether n threads may run under s, as the
// real threads would (on core cpu for SCHED_FIFO and SCHED_OTHER; unpinned for
// SCHED_DEADLINE, see Sched), and gives everything back: n throwaway locked
// threads apply s at the same time (so admission control counts n
// reservations at once), return to SCHED_OTHER, and exit. Call it before
// opening a device, so that a refusal (ErrDeadlineBusy, ErrDeadlineAffinity,
// ErrRTNotPermitted, ErrSchedInvalid) leaves nothing to undo.
//
// It is a probe, not a reservation: another process may take the bandwidth
// between the probe and the real threads' sched_setattr.
func ProbeSched(s Sched, cpu, n int) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.IsZero() || n <= 0 {
		return nil
	}
	if cpu < -1 || cpu >= NumCPU() {
		return fmt.Errorf("rt: cpu %d not in 0..%d", cpu, NumCPU()-1)
	}
	var applied, release sync.WaitGroup
	errs := make([]error, n)
	applied.Add(n)
	release.Add(1)
	var done sync.WaitGroup
	done.Add(n)
	for i := range n {
		// A thread of its own, never the main thread: the runtime destroys
		// it when the goroutine ends, whatever state it was left in.
		osthread.Go(func() {
			defer done.Done()
			errs[i] = ConfigureThread(ThreadAttrs{Name: "sched-probe", CPU: cpu, Sched: s})
			applied.Done()
			release.Wait()
			// Give the reservation back before ProbeSched returns: thread
			// exit would free it too, but after the caller moved on.
			_ = setSched(0, 0, 0)
		})
	}
	applied.Wait()
	release.Done()
	done.Wait()
	for _, err := range errs {
		if err != nil {
			return err // the n threads ask the same; the first answer says it
		}
	}
	return nil
}
