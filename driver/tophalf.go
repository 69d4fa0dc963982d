package driver

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
)

// TopHalf selects what the hard-IRQ handler does (Config.TopHalf).
type TopHalf uint8

const (
	// TopHalfDefault picks per mode: DefaultTopHalf.
	TopHalfDefault TopHalf = iota
	// TopHalfCopy reads the cause, harvests the completed RX descriptors
	// into the SPSC ring, refills the NIC (RDT), unmasks the line and
	// schedules the bottom half, all in hard-IRQ context. The ring hands
	// the frames to a bottom half on another CPU without it touching the
	// NIC.
	TopHalfCopy
	// TopHalfLight is the kernel's threaded-IRQ top half
	// (irq_default_primary_handler with IRQF_ONESHOT): it reads the cause
	// and schedules the bottom half, leaving the line masked (INTx: no
	// VFIO/UIO unmask; MSI-X: the RX cause masked in IMC). The bottom half
	// harvests and refills the NIC itself, as NAPI's poll does, and unmasks
	// when it has drained the device.
	TopHalfLight
	// TopHalfThread is the light top half and the bottom half on one
	// thread (ModeThreaded and ModeWorkqueue): the IRQ thread, or the
	// workqueue's single worker, waits on the interrupt itself, as the
	// kernel's irq_thread does for a NULL primary with IRQF_ONESHOT, whose
	// hard part (mask, wake) vfio-pci's handler already is
	// (deferral.ExecutorOptions.Inline). The thread runs at the bottom
	// half's class (Config.IRQSched, by default deferral.BottomHalfSched of
	// BHSched and ThreadPrio: FIFO 50 threaded, nice -20 workqueue) on
	// IRQCPU: one thread, and under SCHED_DEADLINE one reservation, for the
	// whole interrupt. RTPrio must be 0; BHCPU is not used.
	TopHalfThread
)

func (t TopHalf) String() string {
	switch t {
	case TopHalfDefault:
		return "default"
	case TopHalfCopy:
		return "copy"
	case TopHalfLight:
		return "light"
	case TopHalfThread:
		return "thread"
	}
	return fmt.Sprintf("TopHalf(%d)", uint8(t))
}

// ParseTopHalf reads "copy", "light", "thread" or "default" (also "").
func ParseTopHalf(s string) (TopHalf, error) {
	switch s {
	case "", "default":
		return TopHalfDefault, nil
	case "copy":
		return TopHalfCopy, nil
	case "light":
		return TopHalfLight, nil
	case "thread":
		return TopHalfThread, nil
	}
	return 0, fmt.Errorf("%w: top half %q: want copy, light or thread", ErrBadConfig, s)
}

// DefaultTopHalf is the top half that mode m gets when Config.TopHalf is
// TopHalfDefault; sameCPU says whether the bottom half's thread shares the
// top half's core (BHCPU == IRQCPU, both pinned). Measured in the lab (see
// doc.go, "Top halves"): light wherever the bottom half runs on the top
// half's core, where harvesting in the top half only moves work to the
// highest priority (tasklet, softirq and NAPI always; threaded and workqueue
// when sameCPU); copy for threaded and workqueue on another core, where the
// ring lets the top half harvest on its core while the bottom half works on
// the other.
func DefaultTopHalf(m deferral.Mode, sameCPU bool) TopHalf {
	switch m {
	case deferral.ModeThreaded, deferral.ModeWorkqueue:
		if !sameCPU {
			return TopHalfCopy
		}
	case deferral.ModeBusyPoll:
		return TopHalfCopy // no interrupts: nothing to choose
	}
	return TopHalfLight
}

// light reports whether t leaves the harvest to the bottom half.
func (t TopHalf) light() bool { return t == TopHalfLight || t == TopHalfThread }

// checkTopHalf validates cfg.TopHalf (resolved) and, for TopHalfThread,
// gives the top half the bottom half's class.
func (cfg *Config) checkTopHalf() error {
	switch cfg.TopHalf {
	case TopHalfCopy, TopHalfLight:
		return nil
	case TopHalfThread:
	default:
		return fmt.Errorf("%w: top half %v", ErrBadConfig, cfg.TopHalf)
	}
	switch {
	case cfg.Mode != deferral.ModeThreaded && cfg.Mode != deferral.ModeWorkqueue:
		return fmt.Errorf("%w: top half thread needs mode threaded or workqueue (the IRQ thread or the worker takes the interrupt), not %v",
			ErrBadConfig, cfg.Mode)
	case cfg.RTPrio != 0:
		return fmt.Errorf("%w: top half thread runs at the bottom half's class: RTPrio %d must be 0", ErrBadConfig, cfg.RTPrio)
	}
	if cfg.IRQSched.IsZero() {
		cfg.IRQSched = deferral.BottomHalfSched(cfg.Mode, cfg.BHSched, cfg.ThreadPrio)
	}
	return nil
}

// inline makes eo the single-thread threaded or workqueue bottom half of
// TopHalfThread: on the queue's own CPU (its top-half thread), the class
// being the CPU's.
func (q *queue) inline(eo *deferral.ExecutorOptions) {
	if q.p.cfg.TopHalf != TopHalfThread {
		return
	}
	eo.Inline, eo.CPU, eo.ThreadPrio = true, q.cpu, 0
}

// topHalfLight is the light top half of vector v: acknowledge, keep the
// line masked, wake the bottom halves of vs's queues (IRQF_ONESHOT).
func (p *Port) topHalfLight(v int, vec *Vector, vs *vecState) deferral.IRQReturn {
	causes := p.nic.AckIRQ(v) & vec.Causes
	first := p.queues[vs.queues[0]]
	first.c.irqs.Add(1)
	if causes&CauseLink != 0 {
		deferral.QueueWork(p.wq, p.linkW)
	}
	if causes&(CauseRX|CauseTX) == 0 || p.closing.Load() {
		if vec.Unmask != nil {
			_ = vec.Unmask()
		}
		if causes == 0 {
			first.c.spurious.Add(1)
			return deferral.IRQNone
		}
		return deferral.IRQHandled
	}
	if vec.Unmask != nil {
		// The first queue's bottom half unmasks the line when done.
		first.heldLines.Or(1 << uint(v))
	} else if causes&CauseRX != 0 {
		// An edge-triggered vector (MSI-X) has no line to keep masked:
		// mask the cause in the NIC, as napi_schedule's drivers do.
		p.nic.SetIRQ(v, CauseRX, false)
		first.rxMasked.Store(true)
	}
	for _, q := range vs.queues {
		p.queues[q].schedule()
	}
	return deferral.IRQHandled
}

// pollLight is the bottom half under the light top half: it harvests the
// NIC's queue itself (pollDevice), then gives it the buffers that TX reclaim
// freed (Refill writes the tail only when it posts some).
func (q *queue) pollLight(budget int) int {
	n := q.pollDevice(budget)
	q.p.nic.Refill(q.id)
	return n
}

// reenableLight runs when the queue's bottom half has drained its queue
// (its poll did less than its budget): it unmasks what the light top half
// left masked (irq_finalize_oneshot). Frames that arrived since the last
// poll raise the interrupt again at once: the NIC's cause is still set.
func (q *queue) reenableLight() {
	p := q.p
	if q.rxMasked.Swap(false) && q.vec >= 0 {
		p.nic.SetIRQ(q.vec, CauseRX, true)
	}
	held := q.heldLines.Swap(0)
	for held != 0 {
		i := bits.TrailingZeros32(held)
		held &^= 1 << uint(i)
		if i < len(p.info.Vectors) && p.info.Vectors[i].Unmask != nil {
			_ = p.info.Vectors[i].Unmask()
		}
	}
}

// TopHalfTime is the time the port's top halves spent in hard-IRQ context
// and the interrupts they handled, summed over its vectors: per interrupt,
// what the chosen TopHalf costs on this device. Call it before Close.
func (p *Port) TopHalfTime() (irqs uint64, total time.Duration) {
	for _, a := range p.actions {
		irqs += a.Count()
		total += a.HandlerTime()
	}
	return irqs, total
}

// TopHalf is the port's top half (TopHalfDefault resolved for its mode).
func (p *Port) TopHalf() TopHalf { return p.cfg.TopHalf }
