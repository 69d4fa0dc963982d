package deferral

import (
	"sync"
	"sync/atomic"

	"github.com/uiodrv/uiodrv/rt"
)

// BusyPoller is the no-interrupt baseline (DPDK's poll mode): a thread pinned
// to a core calls poll(budget) in a loop and never sleeps. It spends a whole
// core to avoid every wake-up. It runs at SCHED_OTHER: a SCHED_FIFO spinner
// would starve everything else on its core (and trip RT throttling).
type BusyPoller struct {
	poll   func(budget int) int
	budget int
	stop   atomic.Bool
	done   chan struct{}
	tid    int
	polls  atomic.Uint64
	empty  atomic.Uint64
	once   sync.Once
}

// NewBusyPoller starts the polling thread on core cpu (-1: unpinned).
func NewBusyPoller(cpu int, name string, budget int, poll func(budget int) int) (*BusyPoller, error) {
	if budget <= 0 {
		budget = NAPIPollWeight
	}
	p := &BusyPoller{poll: poll, budget: budget, done: make(chan struct{})}
	tid, err := rt.StartThread(rt.ThreadAttrs{Name: "poll-" + name, CPU: cpu}, p.loop)
	if err != nil {
		return nil, err
	}
	p.tid = tid
	return p, nil
}

func (p *BusyPoller) loop() {
	defer close(p.done)
	for !p.stop.Load() {
		p.polls.Add(1)
		if p.poll(p.budget) == 0 {
			p.empty.Add(1)
		}
	}
}

// TID is the polling thread's TID.
func (p *BusyPoller) TID() int { return p.tid }

// Polls is the number of poll calls; Empty those that found nothing.
func (p *BusyPoller) Polls() uint64 { return p.polls.Load() }
func (p *BusyPoller) Empty() uint64 { return p.empty.Load() }

// Close stops the thread after its current poll and waits. Idempotent.
func (p *BusyPoller) Close() error {
	p.once.Do(func() { p.stop.Store(true); <-p.done })
	return nil
}
