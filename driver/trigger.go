package driver

import (
	"fmt"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/deferral"
)

// Triggerer is a NIC that can raise one of its vectors from software (the
// Intel NICs' ICS and EICS registers). The core raises a vector when a
// queue's refill found the pool empty and buffers came back since: with no
// free descriptor the NIC signals nothing, and some top half must post
// them. A NIC without a software-raised interrupt does not implement it:
// the core then raises its own software interrupt instead (an eventfd per
// vector, served on the vector's top-half thread, so that it never runs
// beside the queue's RX path).
type Triggerer interface {
	Trigger(vec int)
}

// trigger makes vector v's queues refill: through the NIC's own software
// interrupt when it has one, else the port's. A port that took no
// interrupts (busy poll) polls and refills by itself.
func (p *Port) trigger(v int) {
	if t, ok := p.nic.(Triggerer); ok {
		t.Trigger(v)
		return
	}
	if v < len(p.swIRQ) {
		_, _ = unix.Write(p.swIRQ[v], eventOne[:])
	}
}

// requestSoftIRQs gives every vector of a NIC that is no Triggerer a
// software interrupt on its top half's CPU (the thread of vector v's own
// handler, so the two never run at once).
func (p *Port) requestSoftIRQs() error {
	if _, ok := p.nic.(Triggerer); ok {
		return nil
	}
	for v := range p.info.Vectors {
		fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			return fmt.Errorf("software interrupt for vector %d: eventfd: %w", v, err)
		}
		p.swIRQ = append(p.swIRQ, fd)
		vs := &p.vecs[v]
		a, err := p.queues[vs.queues[0]].cpu.RequestIRQ(deferral.IRQ{Fd: fd}, func() deferral.IRQReturn { return p.softIRQ(vs) },
			"uiodrv-sw-"+p.info.Vectors[v].Name)
		if err != nil {
			return fmt.Errorf("request software irq for vector %d: %w", v, err)
		}
		p.actions = append(p.actions, a)
	}
	return nil
}

// softIRQ is what the NIC's software-raised interrupt would have done, with
// no cause to acknowledge: the copying top half harvests and refills its
// queues itself; where the bottom half owns the RX path (NAPI, adaptive,
// the light top half) it is scheduled to poll and refill.
func (p *Port) softIRQ(vs *vecState) deferral.IRQReturn {
	if p.closing.Load() {
		return deferral.IRQHandled
	}
	owns := !p.cfg.TopHalf.light() && p.cfg.Mode != deferral.ModeNAPI && p.cfg.Mode != deferral.ModeAdaptive
	for _, q := range vs.queues {
		if owns {
			p.queues[q].harvest()
		}
		p.queues[q].schedule()
	}
	return deferral.IRQHandled
}

// closeSoftIRQs closes the software interrupts' eventfds (their handlers
// are freed).
func (p *Port) closeSoftIRQs() {
	for _, fd := range p.swIRQ {
		unix.Close(fd)
	}
	p.swIRQ = nil
}

// eventOne is the 8-byte count an eventfd write adds. A package variable,
// because a local array handed to write(2) escapes to the heap, and these
// writes are on the packet path, which allocates nothing.
var eventOne = [8]byte{1}
