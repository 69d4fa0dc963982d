package driver

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/rt"
)

// Opened is a device as a Port takes it: its queues behind the NIC
// interface, and the buffer pool they receive into. The Port closes the NIC
// when it closes; the NIC's Close must then release what Open made (the
// pool and the bus included), as e1000.Device's and igb.Device's do.
type Opened interface {
	Queues() (NIC, Buffers)
}

// Limits and defaults of Config.
const (
	// DefaultRingSize is the capacity of each queue's SPSC ring between the
	// top and the bottom half when Config.RingSize is 0.
	DefaultRingSize = 2048
	// MaxBudget bounds Config.Budget: a poll's batch is stack-sized work,
	// and the NIC's rings hold at most 4096 descriptors.
	MaxBudget = 4096
	// MaxQueues is the most queues a Port runs: queue and vector sets are
	// 32-bit masks (the igb family has at most 16 queues plus one vector).
	MaxQueues = 32
)

// Config configures a Port. The zero value drops frames in tasklet mode
// with both the top half and the bottom half on core 0.
type Config struct {
	// Mode is the bottom half's deferral mechanism.
	Mode deferral.Mode
	// Handler processes frames; nil drops every one (verdict Consume; the
	// port still counts them). With several queues, each queue's bottom
	// half calls it: concurrently. Ready-made handlers (count, reflect,
	// capture) are in package handler.
	Handler Handler
	// IRQCPU is the core of the top half, and of tasklet, softirq and NAPI
	// bottom halves (they run where they were raised, as in the kernel).
	// -1 leaves it unpinned. Used when IRQCPUs is nil.
	IRQCPU int
	// IRQCPUs is the core of each queue's top half and bottom half, one
	// entry per queue (Info().Queues): queue q's vector is handled on
	// IRQCPUs[q], and its bottom half runs there in every mode (its own
	// softirq, tasklet or NAPI instance; its own workqueue worker,
	// IRQ thread or busy poller pinned there). nil means IRQCPU for every
	// queue.
	IRQCPUs []int
	// BHCPU is the core of the workqueue, threaded-IRQ and busy-poll threads
	// of a single-queue port. -1 leaves them unpinned. With several queues
	// each queue's threads run on its IRQCPUs entry instead.
	BHCPU int
	// RTPrio is the top half's SCHED_FIFO priority (hard IRQs preempt
	// tasks); 0 leaves it SCHED_OTHER.
	RTPrio int
	// IRQSched, unless zero, is the top half's scheduling class instead of
	// RTPrio (deferral.CPUOptions.Sched): e.g. BHSched, so that no thread of
	// the port runs above the bottom half. A deadline class needs IRQCPU -1.
	IRQSched rt.Sched
	// ThreadPrio is the threaded mode's SCHED_FIFO priority; 0 means 50,
	// -1 SCHED_OTHER.
	ThreadPrio int
	// BHSched, unless zero, is the scheduling class of the threaded mode's
	// IRQ thread or the workqueue mode's worker (deferral.ExecutorOptions.Sched):
	// e.g. rt.Deadline(200µs, 1ms, 1ms). Refused in other modes.
	BHSched rt.Sched
	// Budget is the most frames one bottom-half poll handles; 0 means 64.
	Budget int
	// RingSize is each queue's SPSC ring capacity between top and bottom
	// half, a power of two; 0 means DefaultRingSize. A ring at least as
	// large as the device's buffer pool never overflows (it can never hold
	// more frames than there are buffers): overload then shows as the NIC
	// running out of descriptors (rx_no_buffer/rx_missed) instead of
	// DropRingFull.
	RingSize int
	// Forward is the port that Forward verdicts transmit on (queue q sends
	// on its queue q modulo its queue count); Port.SetForward changes it.
	Forward *Port
	// DeferHardIRQs and FlushTimeout are NAPI's interrupt deferral (zero: off).
	DeferHardIRQs int
	FlushTimeout  time.Duration
	// TopHalf is what the hard-IRQ handler does (TopHalfCopy or
	// TopHalfLight); TopHalfDefault picks by mode and placement
	// (DefaultTopHalf).
	TopHalf TopHalf
	// Logger receives lifecycle and link events, never per-packet ones; nil discards.
	Logger *zap.Logger
	// Watchdog is the period of the hang watchdog, which runs when the
	// NIC is a Resetter: 0 means DefaultWatchdog, negative turns it off.
	Watchdog time.Duration
}

// Port runs one device: per queue a top half and a bottom half, and the
// handler they share.
type Port struct {
	nic     NIC
	bufs    Buffers
	info    *NICInfo
	cfg     Config
	log     *zap.Logger
	handler Handler
	bufSize int // bytes in one packet buffer (BufSizer, or DefaultBufSize)

	queues  []*queue
	vecs    []vecState // by index in info.Vectors; empty when polling
	actions []*deferral.IRQAction
	wq      *deferral.Workqueue // events: link changes, the watchdog
	linkW   *deferral.Work
	wdog    *watchdog // nil when the NIC is no Resetter or Config.Watchdog < 0

	// starved has bit q set by queue q's top half when its refill found the
	// shared pool empty: the NIC may hold no free descriptor on that
	// queue, so no RX interrupt would ever come to refill it. Any bottom
	// half that frees buffers triggers the starved queues' vectors.
	starved atomic.Uint32
	// swIRQ is each vector's software interrupt (an eventfd) when the NIC
	// is no Triggerer; nil otherwise (trigger.go).
	swIRQ []int

	hist   deferral.Histogram // top-to-bottom-half hand-off, all queues
	histMu sync.Mutex         // guards hist: bottom halves record, Stats reads

	pc portCounters
	// batcher is the NIC's TX doorbell batching (busy poll and adaptive
	// modes; nil otherwise): each queue's bottom half rings the doorbell
	// after FlushAfterEmptyPolls empty polls, Transmit at once.
	batcher  TxBatcher
	fwdMu    sync.RWMutex // guards fwd: bottom halves read it per batch, SetForward writes
	fwd      *Port        // where Forward verdicts go (Config.Forward, then SetForward)
	link     atomic.Bool
	speed    atomic.Int32
	hwMu     sync.Mutex // guards hw and the NIC's ReadStats
	hw       NICStats
	closing  atomic.Bool
	once     sync.Once
	closeErr error
}

var start = time.Now()

func monoNow() int64 { return int64(time.Since(start)) }

// newPort checks cfg against the NIC and builds the port's state, starting
// nothing.
func newPort(nic NIC, bufs Buffers, cfg Config) (*Port, error) {
	info := nic.Info()
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if info.Queues > MaxQueues || len(info.Vectors) > MaxQueues {
		return nil, fmt.Errorf("%w: %s: %d queues, %d vectors; a port runs at most %d of each", ErrBadConfig, info.Name, info.Queues, len(info.Vectors), MaxQueues)
	}
	if cfg.Budget == 0 {
		cfg.Budget = deferral.NAPIPollWeight
	}
	if cfg.Budget < 1 || cfg.Budget > MaxBudget {
		return nil, fmt.Errorf("%w: budget %d outside 1..%d", ErrBadConfig, cfg.Budget, MaxBudget)
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.IRQCPUs == nil {
		cfg.IRQCPUs = make([]int, info.Queues)
		for q := range cfg.IRQCPUs {
			cfg.IRQCPUs[q] = cfg.IRQCPU
		}
	} else {
		if len(cfg.IRQCPUs) != info.Queues {
			return nil, fmt.Errorf("%w: %d IRQ CPUs for %d queues of %s: give one per queue", ErrBadConfig, len(cfg.IRQCPUs), info.Queues, info.Name)
		}
		cfg.IRQCPUs = append([]int(nil), cfg.IRQCPUs...)
	}
	if cfg.Handler == nil {
		cfg.Handler = consumeAll
	}
	if cfg.TopHalf == TopHalfDefault {
		// With several queues every bottom half runs on its queue's CPU.
		cfg.TopHalf = DefaultTopHalf(cfg.Mode, info.Queues > 1 || cfg.IRQCPU == cfg.BHCPU && cfg.IRQCPU >= 0)
	}
	if err := cfg.checkTopHalf(); err != nil {
		return nil, err
	}
	p := &Port{nic: nic, bufs: bufs, info: info, cfg: cfg, handler: cfg.Handler, log: cfg.Logger, bufSize: bufSize(nic, bufs), fwd: cfg.Forward}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	if l, ok := cfg.Handler.(loggerSetter); ok {
		l.SetLogger(p.log)
	}
	for q := 0; q < info.Queues; q++ {
		qu, err := newQueue(p, q)
		if err != nil {
			return nil, err
		}
		p.queues = append(p.queues, qu)
	}
	p.vecs = vectorQueues(info)
	return p, nil
}

// NewPort starts a top half and a bottom half per queue of dev. On error
// nothing is left running and dev is left open (the caller closes it).
func NewPort(dev Opened, cfg Config) (_ *Port, err error) {
	nic, bufs := dev.Queues()
	p, err := newPort(nic, bufs, cfg)
	if err != nil {
		return nil, err
	}
	// p, not the result: every error return below sets the result to nil.
	defer func() {
		if err != nil {
			p.stop()
		}
	}()
	if p.wq, err = deferral.NewWorkqueue("uiodrv-events", 0, 0); err != nil {
		return nil, err
	}
	p.linkW = deferral.NewWork(func(*deferral.Work) { p.checkLink() })
	p.startWatchdog()
	var st NICStats
	p.readStats(&st)
	p.link.Store(st.Link)
	p.speed.Store(int32(st.SpeedMbps))
	if p.cfg.Mode == deferral.ModeBusyPoll || p.cfg.Mode == deferral.ModeAdaptive {
		p.batchTx()
	}
	for _, q := range p.queues {
		// Post buffers to every free slot (a driver may have at open),
		// before the queue's RX path starts: it must never run beside
		// another Refill (NIC's concurrency contract).
		p.nic.Refill(q.id)
		if err = q.start(); err != nil {
			return nil, err
		}
	}
	name := p.info.Name
	if p.cfg.Mode == deferral.ModeBusyPoll {
		// No interrupts: DPDK's poll mode. Link changes are not tracked.
		p.log.Info("port up", zap.String("device", name), zap.String("mode", p.cfg.Mode.String()), zap.Int("queues", len(p.queues)))
		return p, nil
	}
	if err = p.requestIRQs(); err != nil {
		return nil, err
	}
	if err = p.requestSoftIRQs(); err != nil {
		return nil, err
	}
	for v := range p.info.Vectors {
		p.nic.SetIRQ(v, p.info.Vectors[v].Causes, true)
	}
	// Frames may have arrived before the interrupts were enabled.
	for _, q := range p.queues {
		q.exec.Schedule()
	}
	p.log.Info("port up", zap.String("device", name), zap.String("mode", p.cfg.Mode.String()),
		zap.Int("queues", len(p.queues)), zap.Int("vectors", len(p.actions)), zap.Bool("link", st.Link), zap.Int("speed_mbps", st.SpeedMbps))
	return p, nil
}

// readStats reads the NIC's counters into the port's totals and copies the
// totals to s.
func (p *Port) readStats(s *NICStats) {
	p.hwMu.Lock()
	if !p.closing.Load() {
		p.nic.ReadStats(&p.hw)
	}
	*s = p.hw
	p.hwMu.Unlock()
}

// checkLink runs in the events workqueue on a link-status-change interrupt
// (and once at start): only it moves the port's link state, so that it sees
// every change.
func (p *Port) checkLink() {
	var st NICStats
	p.readStats(&st)
	p.speed.Store(int32(st.SpeedMbps))
	if was := p.link.Swap(st.Link); st.Link == was {
		return
	}
	if st.Link {
		p.pc.linkUps.Add(1)
		p.log.Info("link up", zap.String("device", p.info.Name), zap.Int("speed_mbps", st.SpeedMbps))
	} else {
		p.pc.linkDowns.Add(1)
		p.log.Warn("link down", zap.String("device", p.info.Name))
	}
}

// NIC returns the port's device.
func (p *Port) NIC() NIC { return p.nic }

// Info describes the port's device.
func (p *Port) Info() *NICInfo { return p.info }

// Mode returns the bottom half's mode.
func (p *Port) Mode() deferral.Mode { return p.cfg.Mode }

// QueueCPUs is each queue's core (Config.IRQCPUs resolved).
func (p *Port) QueueCPUs() []int { return append([]int(nil), p.cfg.IRQCPUs...) }

// Close stops the port in order: device interrupts off, interrupt handlers
// freed, bottom halves stopped, frames left in the rings dropped (counted
// as DropShutdown), threads ended, handler closed, device closed (reset,
// DMA released). It is idempotent.
func (p *Port) Close() error {
	p.once.Do(func() {
		for v := range p.info.Vectors {
			p.nic.SetIRQ(v, CauseRX|CauseTX|CauseLink, false)
		}
		p.hwMu.Lock()
		p.nic.ReadStats(&p.hw)
		p.closing.Store(true)
		p.hwMu.Unlock()
		p.stop()
		if c, ok := p.handler.(Closer); ok {
			if err := c.Close(); err != nil {
				p.closeErr = fmt.Errorf("close handler: %w", err)
			}
		}
		if err := p.nic.Close(); err != nil {
			p.closeErr = errors.Join(p.closeErr, fmt.Errorf("close device: %w", err))
		}
		p.log.Info("port closed", zap.String("device", p.info.Name))
	})
	return p.closeErr
}

// stop ends everything NewPort started, in reverse order; safe on a partly built port.
func (p *Port) stop() {
	p.closing.Store(true)
	for _, a := range p.actions {
		a.Free()
	}
	p.actions = nil
	p.closeSoftIRQs()
	for _, q := range p.queues {
		q.stopExec()
	}
	p.stopWatchdog()
	if p.linkW != nil {
		deferral.CancelWorkSync(p.linkW)
	}
	if p.wq != nil {
		p.wq.Close()
	}
	for _, q := range p.queues {
		q.drain()
		q.stopCPU()
	}
}
