package driver

import (
	"github.com/uiodrv/uiodrv/deferral"
)

// refillRetries bounds refill's post-and-look-again loop: each round either
// posts the buffers that came back or leaves the starved flag for a bottom
// half to act on, so a few rounds only cover frees racing the flag.
const refillRetries = 4

// topHalf is the copying hard-IRQ handler of vector v, serving vs's queues.
func (p *Port) topHalf(v int, vec *Vector, vs *vecState) deferral.IRQReturn {
	causes := p.nic.AckIRQ(v) & vec.Causes
	p.queues[vs.queues[0]].c.irqs.Add(1)
	if causes&CauseLink != 0 {
		deferral.QueueWork(p.wq, p.linkW)
	}
	schedule := causes&CauseTX != 0
	if causes&CauseRX != 0 {
		if p.cfg.Mode == deferral.ModeNAPI || p.cfg.Mode == deferral.ModeAdaptive {
			// napi_schedule: the poll harvests; no RX interrupts until it completes.
			p.nic.SetIRQ(v, CauseRX, false)
		} else {
			for _, q := range vs.queues {
				p.queues[q].harvest()
			}
		}
		schedule = true
	}
	if vec.Unmask != nil {
		_ = vec.Unmask()
	}
	if schedule && !p.closing.Load() {
		for _, q := range vs.queues {
			p.queues[q].schedule()
		}
	}
	if causes == 0 {
		p.queues[vs.queues[0]].c.spurious.Add(1)
		return deferral.IRQNone
	}
	return deferral.IRQHandled
}

// harvest moves completed RX descriptors into the ring and refills the NIC
// (tail written once). Frames that do not fit are dropped and their buffers
// freed, so the NIC keeps running.
func (q *queue) harvest() {
	p := q.p
	for round := 0; round < harvestRounds; round++ {
		n := p.nic.RxBurst(q.id, q.thBurst[:])
		if n == 0 {
			break
		}
		var bytes uint64
		for i := 0; i < n; i++ {
			bytes += uint64(q.thBurst[i].Len)
		}
		q.c.rxPackets.Add(uint64(n))
		q.c.rxBytes.Add(bytes)
		k := q.rx.EnqueueBurst(q.thBurst[:n])
		if k < n {
			free := q.thFree[:0]
			for _, d := range q.thBurst[k:n] {
				free = append(free, d.Buf)
			}
			p.bufs.PutMany(free)
			q.c.drops[DropRingFull].Add(uint64(n - k))
		}
		if n < len(q.thBurst) {
			break
		}
	}
	q.refill()
}

// refill posts buffers to the NIC. When the pool is empty it marks the queue
// starved and then looks again: either a bottom half frees buffers after the
// flag is set (and triggers the queue's vector), or they are already back and
// we post them now. Checking after setting the flag is what closes the
// lost-wake-up window.
//
// Buffers left in the pool after a Refill mean the ring is full, or that
// they came back from a bottom half after Refill found the pool empty: that
// bottom half saw no starved flag, so nobody else would post them, and with
// an empty ring the NIC raises no interrupt to bring us back. A second
// Refill tells the two apart (on a full ring it posts nothing). If racing
// frees keep every round undecided, the queue's own vector is raised so that
// the top half runs again: an interrupt too many at worst.
func (q *queue) refill() {
	p := q.p
	for i := 0; i < refillRetries; i++ {
		posted := p.nic.Refill(q.id)
		if p.bufs.Available() > 0 {
			if posted == 0 && i > 0 {
				return // a second look posted nothing: the ring is full
			}
			continue
		}
		p.starved.Or(1 << uint(q.id))
		if p.bufs.Available() == 0 || !p.clearStarved(q.id) {
			return
		}
	}
	if q.vec >= 0 {
		p.trigger(q.vec)
	}
}
