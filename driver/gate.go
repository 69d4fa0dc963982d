package driver

import (
	"runtime"
	"sync/atomic"
)

// gateStopped is the bit of gate.s that Stop sets; the rest counts the
// paths inside.
const gateStopped = 1 << 30

// gate lets a reset stop a ring's packet path without the path taking a
// lock: the path enters (one atomic add) and leaves (another), and is
// refused while the gate is stopped, doing nothing (a burst of 0). Stop
// waits until every path that entered has left. Only the reset (one
// goroutine at a time) calls Stop and Start.
type gate struct{ s atomic.Int32 }

// enter reports whether the path may run; if so it must call exit.
func (g *gate) enter() bool {
	if g.s.Add(1)&gateStopped != 0 {
		g.s.Add(-1)
		return false
	}
	return true
}

func (g *gate) exit() { g.s.Add(-1) }

// stop refuses new entries and waits for the paths inside to leave: they
// run for a burst (microseconds), so yielding is enough.
func (g *gate) stop() {
	g.s.Or(gateStopped)
	for g.s.Load() != gateStopped {
		runtime.Gosched()
	}
}

func (g *gate) start() { g.s.And(^int32(gateStopped)) }
