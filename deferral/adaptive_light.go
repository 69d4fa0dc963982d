package deferral

import "time"

// The adaptive executor at light load: re-arm at the first empty poll, and
// poll on the top half's thread.
//
// When frames come further apart than the deferral window (DeferHardIRQs x
// FlushTimeout) the deferral only costs: every wait finds nothing, and each
// frame pays its interrupt plus the timer wake-ups of its empty polls. The
// kernel stops that cost at the application: with IRQ suspension, a busy
// poll that finds nothing ends the suspension and epoll_wait sleeps, and the
// next interrupt's NAPI poll runs in the softirq of the CPU it interrupted,
// waking nobody until there is data. So:
//
//   - The executor counts the interrupts that come more than the window
//     after the last work (gaps the deferral could not bridge). After
//     AdaptiveQuietIRQs of them in a row it is in the light-load state:
//     its runs re-arm at their first empty poll, without waiting
//     (QuickRearms). AdaptiveBusyIRQs interrupts in a row within the
//     window of the last work end it; while the deferral is on, one such
//     interrupt or a wait that finds work in time restarts the count. Two
//     in a row, not one, because a late sender delivers a pair back to
//     back now and then at any rate; a rate above 1/window gives nothing
//     but such gaps and keeps the kernel's behaviour.
//   - In the light-load state, an interrupt whose top half runs on the
//     executor's own CPU (ExecutorOptions.CPU: Schedule called on that
//     CPU's top-half thread) is polled there, inline, as NAPI's poll runs
//     after the hard IRQ: no wake-up of the thread, whose hand-off is the
//     dearest step at these rates (a futex wake and the Go scheduler's
//     hand-over of a locked goroutine's P). A poll that fills its budget,
//     or adaptiveInlinePolls polls that keep finding work, hand the rest to
//     the thread with interrupts still off: load goes back to polling on
//     the thread. The handler then runs on the top half's thread at the
//     top half's priority for those frames, as in ModeNAPI.
//
// Under load nothing changes: polls that keep finding work are never
// followed by an empty poll, and the thread is never left.
//
// Who polls is state: adaptIdle (interrupts armed), adaptThread (the thread
// holds the poll, from the Schedule that woke it to its re-arm) or
// adaptInline (the top half does). A thread run that finds the poll held
// inline returns at once: the inline run re-arms, and a frame that came
// meanwhile raises the interrupt again.

const (
	adaptIdle = iota
	adaptThread
	adaptInline
)

// adaptiveInlinePolls bounds an inline run: the top half is not the place
// for a stream.
const adaptiveInlinePolls = 4

// Schedule is the interrupt: poll inline at light load on the executor's
// CPU, else wake the thread. It does not allocate.
func (e *adaptiveExec) Schedule() {
	e.irqAt.Store(int64(e.clk.now()))
	if e.quick.Load() && !e.noInline && e.cpu != nil && gettid() == e.cpu.tid &&
		e.state.CompareAndSwap(adaptIdle, adaptInline) {
		e.runInline()
		return
	}
	e.state.CompareAndSwap(adaptIdle, adaptThread) // held already: the wake merges
	e.t.wake()
}

// noteIRQ counts the interrupt that started a run as quiet or busy and
// sets the light-load state. Holder of the poll only.
func (e *adaptiveExec) noteIRQ() {
	if time.Duration(e.irqAt.Load())-e.lastWork < e.window { // a gap the deferral would have bridged
		e.fast, e.slow = e.fast+1, 0
		if e.fast >= AdaptiveBusyIRQs {
			e.quick.Store(false)
		}
		return
	}
	e.slow, e.fast = e.slow+1, 0
	if e.slow >= AdaptiveQuietIRQs && !e.alwaysDefer {
		e.quick.Store(true)
	}
}

// runInline is a light-load run on the top half's thread, holding the poll
// (adaptInline): polls until one finds nothing, then the re-arm; or, if
// the work keeps coming, the hand-over to the thread.
func (e *adaptiveExec) runInline() {
	e.inline.Add(1)
	e.noteIRQ()
	for i := 0; i < adaptiveInlinePolls && !e.closed.Load(); i++ {
		e.polls.Add(1)
		n := e.poll(e.weight)
		if n == 0 {
			e.empty.Add(1)
			e.quickN.Add(1)
			e.rearms.Add(1)
			e.reenable()
			e.state.Store(adaptIdle)
			return
		}
		e.lastWork = e.clk.now()
		if n >= e.weight {
			break
		}
	}
	e.handedOver = true
	e.state.Store(adaptThread)
	e.t.wake()
}
