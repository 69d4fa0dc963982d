package deferral

// BottomHalfSched is the scheduling class a mode's bottom-half thread runs
// at: s when given; otherwise threaded: SCHED_FIFO threadPrio (0:
// DefaultIRQThreadPrio; -1: SCHED_OTHER), workqueue: nice -20 (the
// executor's WQHighPri worker). Other modes run their bottom half on the top
// half's thread or spin: the zero Sched. It is the class to give a top half
// that must run no higher than its bottom half (CPUOptions.Sched).
func BottomHalfSched(mode Mode, s Sched, threadPrio int) Sched {
	if !s.IsZero() {
		return s
	}
	switch mode {
	case ModeThreaded:
		switch {
		case threadPrio == 0:
			return FIFO(DefaultIRQThreadPrio)
		case threadPrio < 0:
			return Sched{Policy: PolicyOther}
		}
		return FIFO(threadPrio)
	case ModeWorkqueue:
		return Sched{Policy: PolicyOther, Nice: -20}
	}
	return Sched{}
}
