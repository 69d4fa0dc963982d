package deferral

import "github.com/uiodrv/uiodrv/rt"

// BottomHalfSched is the scheduling class a mode's bottom-half thread runs
// at: s when given; otherwise threaded: SCHED_FIFO threadPrio (0:
// DefaultIRQThreadPrio; -1: SCHED_OTHER), workqueue: nice -20 (the
// executor's WQHighPri worker). Other modes run their bottom half on the top
// half's thread or spin: the zero Sched. It is the class to give a top half
// that must run no higher than its bottom half (CPUOptions.Sched).
func BottomHalfSched(mode Mode, s rt.Sched, threadPrio int) rt.Sched {
	if !s.IsZero() {
		return s
	}
	switch mode {
	case ModeThreaded:
		switch {
		case threadPrio == 0:
			return rt.FIFO(DefaultIRQThreadPrio)
		case threadPrio < 0:
			return rt.Sched{Policy: rt.PolicyOther}
		}
		return rt.FIFO(threadPrio)
	case ModeWorkqueue:
		return rt.Sched{Policy: rt.PolicyOther, Nice: -20}
	}
	return rt.Sched{}
}

// threadClass is the class of a thread that the older options give as an RT
// priority and a nice value, unless s is set: s; otherwise SCHED_FIFO rtPrio
// when rtPrio > 0, else SCHED_OTHER at nice.
func threadClass(s rt.Sched, rtPrio, nice int) rt.Sched {
	switch {
	case !s.IsZero():
		return s
	case rtPrio > 0:
		return rt.FIFO(rtPrio)
	}
	return rt.Sched{Policy: rt.PolicyOther, Nice: nice}
}
