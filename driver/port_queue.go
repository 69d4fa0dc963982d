package driver

import (
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/ring"
)

// harvestBurst is how many descriptors the copying top half takes off the
// NIC per RxBurst call, and harvestRounds how many bursts one interrupt
// harvests at most before it hands over (64 x 16 = 1024 frames, a full
// ring of the largest common size: the top half stays short).
const (
	harvestBurst  = 64
	harvestRounds = 16
)

// queue is one RX/TX queue pair of a port with its own halves: its
// deferral.CPU (top-half thread, ksoftirqd, softirq/tasklet/NAPI
// instances), its executor, its ring and its counters. Queues share only the
// buffer pool, the handler and the port's events.
type queue struct {
	p    *Port
	id   int
	core int // Config.IRQCPUs[id]
	vec  int // index of its vector in Info().Vectors; -1 when polling

	cpu   *deferral.CPU
	bhCPU *deferral.CPU // thread modes' anchor on another core (single queue, BHCPU != IRQCPU); nil otherwise
	exec  deferral.Executor

	rx *ring.SPSC[RxDesc]

	// top half only
	thBurst [harvestBurst]RxDesc
	thFree  [harvestBurst]uint32

	// bottom half only (one bottom half per queue runs at a time in every mode)
	descs []RxDesc
	pkts  []Packet
	free  []uint32
	txq   []TxDesc
	fwdq  []TxDesc

	emptyPolls int // polls in a row that found nothing (TX doorbell batching)

	// txMu guards the queue's TX path (TxBurst, Reclaim): its own bottom
	// half, a forwarding port's bottom half and Transmit share it.
	txMu sync.Mutex

	scheduledAt atomic.Int64 // monotonic ns when the bottom half was last scheduled, 0 when consumed

	// light top half: what it left masked for the bottom half to re-enable
	heldLines atomic.Uint32 // vectors (bit v) whose line stays masked until the bottom half is done
	rxMasked  atomic.Bool   // the RX cause was masked on vec (vectors without a line mask: MSI-X)

	c counters
}

// vecState is what a vector serves: the queues whose QueueVector it is
// (mask), or queue 0 for a vector that is no queue's (link, a TX-only
// vector). Its top half runs on its first queue's CPU.
type vecState struct {
	queues []int
	mask   uint32
}

// vectorQueues maps each vector to the queues it serves.
func vectorQueues(info *NICInfo) []vecState {
	vs := make([]vecState, len(info.Vectors))
	for q, v := range info.QueueVector {
		vs[v].queues = append(vs[v].queues, q)
		vs[v].mask |= 1 << uint(q)
	}
	for v := range vs {
		if len(vs[v].queues) == 0 {
			vs[v].queues, vs[v].mask = []int{0}, 1
		}
	}
	return vs
}

func newQueue(p *Port, id int) (*queue, error) {
	q := &queue{p: p, id: id, core: p.cfg.IRQCPUs[id], vec: -1}
	if len(p.info.Vectors) > 0 {
		q.vec = p.info.QueueVector[id]
	}
	var err error
	if q.rx, err = ring.NewSPSC[RxDesc](p.cfg.RingSize); err != nil {
		return nil, fmt.Errorf("%w: ring size %d: %v", ErrBadConfig, p.cfg.RingSize, err)
	}
	b := p.cfg.Budget
	q.descs = make([]RxDesc, b)
	q.pkts = make([]Packet, b)
	q.free = make([]uint32, 0, b)
	q.txq = make([]TxDesc, 0, b)
	q.fwdq = make([]TxDesc, 0, b)
	return q, nil
}

// start starts the queue's CPU context and bottom half.
func (q *queue) start() (err error) {
	cfg := &q.p.cfg
	name := fmt.Sprintf("uq%d", q.id) // thread names: irq-uq0, ksoftirqd/uq0, irq/N-uq0, poll-uq0
	if q.cpu, err = deferral.NewCPU(deferral.CPUOptions{CPU: q.core, RTPrio: cfg.RTPrio, Sched: cfg.IRQSched, Name: name}); err != nil {
		return fmt.Errorf("queue %d top-half CPU %d: %w", q.id, q.core, err)
	}
	bh := q.cpu
	if len(q.p.queues) == 1 && cfg.BHCPU != q.core && cfg.TopHalf != TopHalfThread {
		if q.bhCPU, err = deferral.NewCPU(deferral.CPUOptions{CPU: cfg.BHCPU, Name: name + "-bh"}); err != nil {
			return fmt.Errorf("bottom-half CPU %d: %w", cfg.BHCPU, err)
		}
		bh = q.bhCPU
	}
	eo := deferral.ExecutorOptions{
		Mode:          cfg.Mode,
		CPU:           q.cpu,
		Weight:        cfg.Budget,
		Name:          name,
		ThreadPrio:    cfg.ThreadPrio,
		Sched:         cfg.BHSched,
		DeferHardIRQs: cfg.DeferHardIRQs,
		FlushTimeout:  cfg.FlushTimeout,
		Poll:          q.pollRing,
	}
	switch cfg.Mode {
	case deferral.ModeNAPI:
		eo.Poll = q.pollDevice
		eo.Reenable = q.reenableRX
	case deferral.ModeBusyPoll:
		eo.Poll, eo.CPU = q.pollDevice, bh
	case deferral.ModeAdaptive:
		// A NAPI poll on a thread of its own (deferral/adaptive.go).
		eo.Poll, eo.Reenable, eo.CPU = q.pollDevice, q.reenableRX, bh
	case deferral.ModeWorkqueue, deferral.ModeThreaded:
		eo.CPU = bh
	}
	if cfg.TopHalf.light() && cfg.Mode != deferral.ModeBusyPoll {
		eo.Poll, eo.Reenable = q.pollLight, q.reenableLight
	}
	q.inline(&eo)
	if q.exec, err = deferral.NewExecutor(eo); err != nil {
		return fmt.Errorf("queue %d bottom half (%v): %w", q.id, cfg.Mode, err)
	}
	return nil
}

// reenableRX is NAPI's napi_complete: RX interrupts back on for the queue.
func (q *queue) reenableRX() {
	if q.vec >= 0 {
		q.p.nic.SetIRQ(q.vec, CauseRX, true)
	}
}

func (q *queue) stopExec() {
	if q.exec != nil {
		_ = q.exec.Close()
	}
}

// drain frees what is left in the ring (the bottom half has stopped).
func (q *queue) drain() {
	var d [harvestBurst]RxDesc
	var bufs [harvestBurst]uint32
	for {
		n := q.rx.DequeueBurst(d[:])
		if n == 0 {
			break
		}
		for i := 0; i < n; i++ {
			bufs[i] = d[i].Buf
		}
		q.p.bufs.PutMany(bufs[:n])
		q.c.drops[DropShutdown].Add(uint64(n))
	}
}

func (q *queue) stopCPU() {
	if q.bhCPU != nil {
		_ = q.bhCPU.Close()
	}
	if q.cpu != nil {
		_ = q.cpu.Close()
	}
}

// requestIRQs attaches each vector's top half on the CPU of its first queue.
func (p *Port) requestIRQs() error {
	for v := range p.info.Vectors {
		vec := &p.info.Vectors[v]
		vs := &p.vecs[v]
		th := func() deferral.IRQReturn { return p.topHalf(v, vec, vs) }
		if p.cfg.TopHalf.light() {
			th = func() deferral.IRQReturn { return p.topHalfLight(v, vec, vs) }
		}
		a, err := p.queues[vs.queues[0]].cpu.RequestIRQ(deferral.IRQ{Fd: vec.Fd, Ack: vec.Ack}, th, "uiodrv-"+vec.Name)
		if err != nil {
			return fmt.Errorf("request irq %s: %w", vec.Name, err)
		}
		p.actions = append(p.actions, a)
	}
	return nil
}

// schedule runs queue q's bottom half.
func (q *queue) schedule() {
	q.scheduledAt.CompareAndSwap(0, monoNow())
	q.exec.Schedule()
}

// kickStarved raises the vectors of the queues whose top half found the pool
// empty, now that buffers are back. Called by bottom halves after freeing.
func (p *Port) kickStarved() {
	s := p.starved.Load()
	if s == 0 || p.bufs.Available() == 0 {
		return
	}
	for s != 0 {
		i := bits.TrailingZeros32(s)
		s &^= 1 << uint(i)
		if p.clearStarved(i) {
			if v := p.queues[i].vec; v >= 0 {
				p.trigger(v)
			}
		}
	}
}

// clearStarved clears queue i's starved bit and reports whether it was set.
func (p *Port) clearStarved(i int) bool {
	bit := uint32(1) << uint(i)
	for {
		s := p.starved.Load()
		if s&bit == 0 {
			return false
		}
		if p.starved.CompareAndSwap(s, s&^bit) {
			return true
		}
	}
}
