package driver

import (
	"github.com/uiodrv/uiodrv/deferral"
)

// topHalf is the hard-IRQ handler of one vector.
func (p *Port) topHalf(vec int, v *Vector) deferral.IRQReturn {
	causes := p.dev.AckIRQ(vec) & v.Causes
	p.c.irqs.Add(1)
	if causes&CauseLink != 0 {
		deferral.QueueWork(p.wq, p.linkW)
	}
	schedule := causes&CauseTX != 0
	if causes&CauseRX != 0 {
		if p.cfg.Mode == deferral.ModeNAPI || p.cfg.Mode == deferral.ModeAdaptive {
			// napi_schedule: the poll harvests; no RX interrupts until it completes.
			p.dev.DisableIRQ(CauseRX)
		} else {
			p.harvest()
		}
		schedule = true
	}
	if v.Unmask != nil {
		_ = v.Unmask()
	}
	if schedule && !p.closing.Load() {
		p.scheduledAt.CompareAndSwap(0, monoNow())
		p.exec.Schedule()
	}
	if causes == 0 {
		p.c.spurious.Add(1)
		return deferral.IRQNone
	}
	return deferral.IRQHandled
}

// harvest moves completed RX descriptors into the ring and refills the NIC
// (tail written once). Frames that do not fit are dropped and their buffers
// freed, so the NIC keeps running.
func (p *Port) harvest() {
	for round := 0; round < 16; round++ {
		n := p.dev.RxBurst(p.thBurst[:])
		if n == 0 {
			break
		}
		var bytes uint64
		for i := 0; i < n; i++ {
			bytes += uint64(p.thBurst[i].Len)
		}
		p.c.rxPackets.Add(uint64(n))
		p.c.rxBytes.Add(bytes)
		k := p.rx.EnqueueBurst(p.thBurst[:n])
		if k < n {
			free := p.thFree[:0]
			for _, d := range p.thBurst[k:n] {
				free = append(free, d.Buf)
			}
			p.dev.FreeBufs(free)
			p.c.drops[DropRingFull].Add(uint64(n - k))
		}
		if n < len(p.thBurst) {
			break
		}
	}
	p.refill()
}

// refill posts buffers to the NIC. When the pool is empty it sets starved and
// then looks again: either the bottom half frees buffers after the flag is
// set (and kicks), or they are already back and we post them now. Checking
// after setting the flag is what closes the lost-wake-up window.
func (p *Port) refill() {
	for i := 0; i < 4; i++ {
		p.dev.RefillRx()
		if p.dev.FreeBuffers() > 0 {
			return
		}
		p.starved.Store(true)
		if p.dev.FreeBuffers() == 0 || !p.starved.CompareAndSwap(true, false) {
			return
		}
	}
}
