package driver

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/ring"
)

// Config configures a Port. The zero value counts frames in tasklet mode
// with both the top half and the bottom half on core 0.
type Config struct {
	// Mode is the bottom half's deferral mechanism.
	Mode deferral.Mode
	// Handler processes frames; nil counts them (NewCount()).
	Handler Handler
	// IRQCPU is the core of the top half, and of tasklet, softirq and NAPI
	// bottom halves (they run where they were raised, as in the kernel).
	// -1 leaves it unpinned.
	IRQCPU int
	// BHCPU is the core of the workqueue, threaded-IRQ and busy-poll threads.
	// -1 leaves them unpinned.
	BHCPU int
	// RTPrio is the top half's SCHED_FIFO priority (hard IRQs preempt
	// tasks); 0 leaves it SCHED_OTHER.
	RTPrio int
	// ThreadPrio is the threaded mode's SCHED_FIFO priority; 0 means 50,
	// -1 SCHED_OTHER.
	ThreadPrio int
	// BHSched, unless zero, is the scheduling class of the threaded mode's
	// IRQ thread or the workqueue mode's worker (deferral.ExecutorOptions.Sched):
	// e.g. deferral.Deadline(200µs, 1ms, 1ms). Refused in other modes.
	BHSched deferral.Sched
	// Budget is the most frames one bottom-half poll handles; 0 means 64.
	Budget int
	// RingSize is the SPSC ring's capacity between top and bottom half,
	// a power of two; 0 means 2048. A ring at least as large as the
	// device's buffer pool never overflows (it can never hold more frames
	// than there are buffers): overload then shows as the NIC running out
	// of descriptors (RNBC/MPC) instead of DropRingFull.
	RingSize int
	// Forward is the port that Forward verdicts transmit on.
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
	// device is a Resetter: 0 means DefaultWatchdog, negative turns it off.
	Watchdog time.Duration
}

// Port runs one device: its top half, its bottom half and its handler.
type Port struct {
	dev     Device
	cfg     Config
	log     *zap.Logger
	handler Handler

	irqCPU  *deferral.CPU
	bhCPU   *deferral.CPU // anchor for thread-based modes; == irqCPU when on the same core
	exec    deferral.Executor
	actions []*deferral.IRQAction
	wq      *deferral.Workqueue
	linkW   *deferral.Work
	wdog    *watchdog // nil when the device is no Resetter or Config.Watchdog < 0

	rx *ring.SPSC[RxDesc]

	// top half only
	thBurst [64]RxDesc
	thFree  [64]uint32

	// bottom half only (one bottom half runs at a time in every mode)
	descs  []RxDesc
	pkts   []Packet
	free   []uint32
	txq    []TxDesc
	fwdq   []TxDesc
	hist   deferral.Histogram
	histMu sync.Mutex // guards hist against Stats readers

	txMu sync.Mutex // guards the device's TX path (TxBurst, ReclaimTx): the own and a forwarding port's bottom halves share it

	// starved is set by the top half when its refill found the buffer pool
	// empty: the NIC may hold no free descriptor, so no RX interrupt would
	// ever come to refill it. The bottom half kicks the NIC after freeing.
	starved atomic.Bool

	scheduledAt atomic.Int64 // monotonic ns when the bottom half was last scheduled, 0 when consumed

	light lightState // TopHalfLight only (tophalf.go)

	// Busy poll's TX doorbell batching (issue 12): txFlush rings the
	// doorbell for frames the device queued without it; nil when the
	// device does not batch. emptyPolls counts polls in a row that found
	// nothing (bottom half only).
	txFlush    func()
	emptyPolls int

	c        counters
	bufSize  int // bytes in one of dev's packet buffers (BufSizer, or DefaultBufSize)
	link     atomic.Bool
	speed    atomic.Int32
	hwMu     sync.Mutex
	hw       HWStats
	closing  atomic.Bool
	once     sync.Once
	closeErr error
}

var start = time.Now()

func monoNow() int64 { return int64(time.Since(start)) }

// newPort checks cfg and builds the port's state, starting nothing.
func newPort(dev Device, cfg Config) (*Port, error) {
	if cfg.Budget == 0 {
		cfg.Budget = deferral.NAPIPollWeight
	}
	if cfg.Budget < 1 || cfg.Budget > 4096 {
		return nil, fmt.Errorf("%w: budget %d outside 1..4096", ErrBadConfig, cfg.Budget)
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = 2048
	}
	if cfg.Handler == nil {
		cfg.Handler = NewCount()
	}
	if cfg.TopHalf == TopHalfDefault {
		cfg.TopHalf = DefaultTopHalf(cfg.Mode, cfg.IRQCPU == cfg.BHCPU && cfg.IRQCPU >= 0)
	}
	if cfg.TopHalf != TopHalfCopy && cfg.TopHalf != TopHalfLight {
		return nil, fmt.Errorf("%w: top half %v", ErrBadConfig, cfg.TopHalf)
	}
	p := &Port{dev: dev, cfg: cfg, handler: cfg.Handler, log: cfg.Logger, bufSize: bufSize(dev)}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	if l, ok := cfg.Handler.(loggerSetter); ok {
		l.SetLogger(p.log)
	}
	var err error
	if p.rx, err = ring.NewSPSC[RxDesc](cfg.RingSize); err != nil {
		return nil, fmt.Errorf("%w: ring size %d: %v", ErrBadConfig, cfg.RingSize, err)
	}
	p.descs = make([]RxDesc, cfg.Budget)
	p.pkts = make([]Packet, cfg.Budget)
	p.free = make([]uint32, 0, cfg.Budget)
	p.txq = make([]TxDesc, 0, cfg.Budget)
	p.fwdq = make([]TxDesc, 0, cfg.Budget)
	return p, nil
}

// NewPort starts the top half and bottom half for dev. On error nothing is
// left running and dev is left open (the caller closes it).
func NewPort(dev Device, cfg Config) (p *Port, err error) {
	if p, err = newPort(dev, cfg); err != nil {
		return nil, err
	}
	cfg = p.cfg
	defer func() {
		if err != nil {
			p.stop()
		}
	}()
	name := dev.Name()
	if p.irqCPU, err = deferral.NewCPU(deferral.CPUOptions{CPU: cfg.IRQCPU, RTPrio: cfg.RTPrio, Name: "uiodrv"}); err != nil {
		return nil, fmt.Errorf("top-half CPU %d: %w", cfg.IRQCPU, err)
	}
	p.bhCPU = p.irqCPU
	if cfg.BHCPU != cfg.IRQCPU {
		if p.bhCPU, err = deferral.NewCPU(deferral.CPUOptions{CPU: cfg.BHCPU, Name: "uiodrv-bh"}); err != nil {
			return nil, fmt.Errorf("bottom-half CPU %d: %w", cfg.BHCPU, err)
		}
	}
	if p.wq, err = deferral.NewWorkqueue("uiodrv-events", 0, 0); err != nil {
		return nil, err
	}
	p.linkW = deferral.NewWork(func(*deferral.Work) { p.checkLink() })
	p.startWatchdog()

	up, speed := dev.LinkUp()
	p.link.Store(up)
	p.speed.Store(int32(speed))

	eo := deferral.ExecutorOptions{
		Mode:          cfg.Mode,
		CPU:           p.irqCPU,
		Weight:        cfg.Budget,
		Name:          "uiodrv-" + cfg.Mode.String(),
		ThreadPrio:    cfg.ThreadPrio,
		Sched:         cfg.BHSched,
		DeferHardIRQs: cfg.DeferHardIRQs,
		FlushTimeout:  cfg.FlushTimeout,
	}
	switch cfg.Mode {
	case deferral.ModeNAPI, deferral.ModeBusyPoll, deferral.ModeAdaptive:
		eo.Poll = p.pollDevice
		if cfg.Mode != deferral.ModeBusyPoll {
			eo.Reenable = func() { p.dev.EnableIRQ(CauseRX) }
		}
		if cfg.Mode != deferral.ModeNAPI {
			eo.CPU = p.bhCPU
			p.batchTx()
		}
	case deferral.ModeWorkqueue, deferral.ModeThreaded:
		eo.CPU = p.bhCPU
		eo.Poll = p.pollRing
	default:
		eo.Poll = p.pollRing
	}
	if cfg.TopHalf == TopHalfLight && cfg.Mode != deferral.ModeBusyPoll {
		eo.Poll, eo.Reenable = p.pollLight, p.reenableLight
	}
	if p.exec, err = deferral.NewExecutor(eo); err != nil {
		return nil, fmt.Errorf("bottom half (%v): %w", cfg.Mode, err)
	}
	if cfg.Mode == deferral.ModeBusyPoll {
		// No interrupts: DPDK's poll mode. Link changes are not tracked.
		p.log.Info("port up", zap.String("device", name), zap.String("mode", cfg.Mode.String()))
		return p, nil
	}
	for i, v := range dev.Vectors() {
		irq := deferral.IRQ{Fd: v.Fd, Ack: v.Ack}
		th := func() deferral.IRQReturn { return p.topHalf(i, &v) }
		if cfg.TopHalf == TopHalfLight {
			th = func() deferral.IRQReturn { return p.topHalfLight(i, &v) }
		}
		a, err := p.irqCPU.RequestIRQ(irq, th, "uiodrv-"+v.Name)
		if err != nil {
			return nil, fmt.Errorf("request irq %s: %w", v.Name, err)
		}
		p.actions = append(p.actions, a)
	}
	dev.EnableIRQ(CauseRX | CauseTX | CauseLink)
	// Frames may have arrived before the interrupt was enabled.
	p.exec.Schedule()
	p.log.Info("port up", zap.String("device", name), zap.String("mode", cfg.Mode.String()),
		zap.Int("vectors", len(p.actions)), zap.Bool("link", up), zap.Int("speed_mbps", speed))
	return p, nil
}

// checkLink runs in the events workqueue on a link-status-change interrupt.
func (p *Port) checkLink() {
	up, speed := p.dev.LinkUp()
	was := p.link.Swap(up)
	p.speed.Store(int32(speed))
	if up == was {
		return
	}
	if up {
		p.c.linkUps.Add(1)
		p.log.Info("link up", zap.String("device", p.dev.Name()), zap.Int("speed_mbps", speed))
	} else {
		p.c.linkDowns.Add(1)
		p.log.Warn("link down", zap.String("device", p.dev.Name()))
	}
}

// Device returns the port's device.
func (p *Port) Device() Device { return p.dev }

// Mode returns the bottom half's mode.
func (p *Port) Mode() deferral.Mode { return p.cfg.Mode }

// Stats returns a snapshot of the counters, reading the NIC's hardware
// counters (which clear on read) into the accumulated totals.
func (p *Port) Stats() Stats {
	p.hwMu.Lock()
	if !p.closing.Load() {
		p.dev.ReadHWStats(&p.hw)
	}
	hw := p.hw
	p.hwMu.Unlock()
	s := Stats{
		RxPackets: p.c.rxPackets.Load(),
		RxBytes:   p.c.rxBytes.Load(),
		Processed: p.c.processed.Load(),
		TxPackets: p.c.txPackets.Load(),
		TxBytes:   p.c.txBytes.Load(),
		TxDropped: p.c.txDropped.Load(),
		TxInvalid: p.c.txInvalid.Load(),
		IRQs:      p.c.irqs.Load(),
		Spurious:  p.c.spurious.Load(),
		BHRuns:    p.c.bhRuns.Load(),
		Panics:    p.c.panics.Load(),
		LinkUps:   p.c.linkUps.Load(),
		LinkDowns: p.c.linkDowns.Load(),
		Resets:    p.c.resets.Load(),
		Link:      p.link.Load(),
		SpeedMbps: int(p.speed.Load()),
		HW:        hw,
		InFlight:  uint64(p.rx.Len()),
	}
	for i := range s.Drops {
		s.Drops[i] = p.c.drops[i].Load()
	}
	p.histMu.Lock()
	s.HandoffCount = p.hist.Count()
	if s.HandoffCount > 0 {
		s.HandoffP50 = time.Duration(p.hist.Quantile(0.50))
		s.HandoffP99 = time.Duration(p.hist.Quantile(0.99))
	}
	p.histMu.Unlock()
	return s
}

// Close stops the port in order: device interrupts off, interrupt handlers
// freed, bottom half stopped, frames left in the ring dropped (counted as
// DropShutdown), threads ended, handler closed, device closed (reset, DMA
// released). It is idempotent.
func (p *Port) Close() error {
	p.once.Do(func() {
		p.closing.Store(true)
		p.dev.DisableIRQ(CauseRX | CauseTX | CauseLink)
		p.hwMu.Lock()
		p.dev.ReadHWStats(&p.hw)
		p.hwMu.Unlock()
		p.stop()
		if c, ok := p.handler.(Closer); ok {
			if err := c.Close(); err != nil {
				p.closeErr = fmt.Errorf("close handler: %w", err)
			}
		}
		if err := p.dev.Close(); err != nil {
			p.closeErr = errors.Join(p.closeErr, fmt.Errorf("close device: %w", err))
		}
		p.log.Info("port closed", zap.String("device", p.dev.Name()))
	})
	return p.closeErr
}

// stop ends everything NewPort started, in reverse order; safe on a partly built port.
func (p *Port) stop() {
	for _, a := range p.actions {
		a.Free()
	}
	p.actions = nil
	if p.exec != nil {
		_ = p.exec.Close()
	}
	p.stopWatchdog()
	if p.linkW != nil {
		deferral.CancelWorkSync(p.linkW)
	}
	if p.wq != nil {
		p.wq.Close()
	}
	if p.rx != nil {
		var d [64]RxDesc
		var bufs [64]uint32
		for {
			n := p.rx.DequeueBurst(d[:])
			if n == 0 {
				break
			}
			for i := 0; i < n; i++ {
				bufs[i] = d[i].Buf
			}
			p.dev.FreeBufs(bufs[:n])
			p.c.drops[DropShutdown].Add(uint64(n))
		}
	}
	if p.bhCPU != nil && p.bhCPU != p.irqCPU {
		_ = p.bhCPU.Close()
	}
	if p.irqCPU != nil {
		_ = p.irqCPU.Close()
	}
}
