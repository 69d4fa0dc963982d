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
	case deferral.ModeNAPI, deferral.ModeBusyPoll:
		eo.Poll = p.pollDevice
		if cfg.Mode == deferral.ModeNAPI {
			eo.Reenable = func() { p.dev.EnableIRQ(CauseRX) }
		} else {
			eo.CPU = p.bhCPU
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

// topHalf is the hard-IRQ handler of one vector.
func (p *Port) topHalf(vec int, v *Vector) deferral.IRQReturn {
	causes := p.dev.AckIRQ(vec) & v.Causes
	p.c.irqs.Add(1)
	if causes&CauseLink != 0 {
		deferral.QueueWork(p.wq, p.linkW)
	}
	schedule := causes&CauseTX != 0
	if causes&CauseRX != 0 {
		if p.cfg.Mode == deferral.ModeNAPI {
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

func (p *Port) noteHandoff() {
	if t := p.scheduledAt.Swap(0); t != 0 {
		p.histMu.Lock()
		p.hist.Record(monoNow() - t)
		p.histMu.Unlock()
	}
}

// pollRing is the bottom half of the ring-based modes.
func (p *Port) pollRing(budget int) int {
	p.noteHandoff()
	p.c.bhRuns.Add(1)
	if budget > len(p.descs) {
		budget = len(p.descs)
	}
	n := p.rx.DequeueBurst(p.descs[:budget])
	if n > 0 {
		p.process(p.descs[:n])
	}
	p.reclaim()
	return n
}

// pollDevice is the NAPI and busy-poll bottom half: it harvests the NIC itself.
func (p *Port) pollDevice(budget int) int {
	p.noteHandoff()
	p.c.bhRuns.Add(1)
	if budget > len(p.descs) {
		budget = len(p.descs)
	}
	n := p.dev.RxBurst(p.descs[:budget])
	if n > 0 {
		var bytes uint64
		for _, d := range p.descs[:n] {
			bytes += uint64(d.Len)
		}
		p.c.rxPackets.Add(uint64(n))
		p.c.rxBytes.Add(bytes)
		p.process(p.descs[:n])
		// Refill after processing, when the batch's buffers are back in
		// the pool (as e1000_clean_rx_irq allocates after cleaning).
		p.dev.RefillRx()
	}
	p.reclaim()
	return n
}

// reclaim frees the buffers of transmitted frames and, if the top half found
// the pool empty, kicks the NIC now that buffers are back: buffers return
// both through process (consumed frames) and here (transmitted ones).
func (p *Port) reclaim() {
	p.txMu.Lock()
	p.dev.ReclaimTx()
	p.txMu.Unlock()
	if p.starved.Load() && p.dev.FreeBuffers() > 0 && p.starved.CompareAndSwap(true, false) {
		p.dev.Kick()
	}
}

// process runs the handler on a batch and carries out its verdicts.
func (p *Port) process(descs []RxDesc) {
	pkts := p.pkts[:0]
	free := p.free[:0]
	var bad, noEOP uint64
	for _, d := range descs {
		if d.Errors != 0 || d.Flags != 0 {
			free = append(free, d.Buf)
			if d.Flags&RxIncomplete != 0 {
				noEOP++
			} else {
				bad++
			}
			continue
		}
		pkts = append(pkts, Packet{Data: p.dev.Packet(d.Buf, int(d.Len)), Desc: d})
	}
	if bad > 0 {
		p.c.drops[DropRxError].Add(bad)
	}
	if noEOP > 0 {
		p.c.drops[DropNoEOP].Add(noEOP)
	}
	if len(pkts) > 0 {
		if p.runHandler(pkts) {
			p.c.processed.Add(uint64(len(pkts)))
			free = p.verdicts(pkts, free)
		} else {
			for _, pk := range pkts {
				free = append(free, pk.Desc.Buf)
			}
			p.c.drops[DropPanic].Add(uint64(len(pkts)))
		}
	}
	if len(free) > 0 {
		p.dev.FreeBufs(free)
	}
	p.free = free[:0]
}

// runHandler calls the handler and recovers a panic; false means it panicked.
func (p *Port) runHandler(pkts []Packet) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			n := p.c.panics.Add(1)
			// Rate-limited: the first ten, then every thousandth.
			if n <= 10 || n%1000 == 0 {
				p.log.Error("packet handler panicked; batch dropped", zap.Any("panic", r), zap.Uint64("panics", n), zap.Int("batch", len(pkts)))
			}
		}
	}()
	p.handler.Handle(pkts)
	return true
}

// verdicts carries out the handler's verdicts. A Transmit or Forward verdict
// on an empty frame or one larger than a buffer is a handler bug: it is
// counted (TxInvalid) and its buffer freed, never handed to the NIC. A
// Transmit verdict on Data that is not the frame's own buffer (the handler
// built a new frame) copies Data into the buffer first.
func (p *Port) verdicts(pkts []Packet, free []uint32) []uint32 {
	txq := p.txq[:0]
	fwdq := p.fwdq[:0]
	fwd := p.cfg.Forward
	var invalid uint64
	for i := range pkts {
		pk := &pkts[i]
		switch pk.Verdict {
		case Transmit:
			n := len(pk.Data)
			if n == 0 || n > p.bufSize {
				invalid++
				free = append(free, pk.Desc.Buf)
				continue
			}
			if buf := p.dev.Packet(pk.Desc.Buf, n); len(buf) < n {
				invalid++
				free = append(free, pk.Desc.Buf)
				continue
			} else if &buf[0] != &pk.Data[0] {
				copy(buf, pk.Data)
			}
			txq = append(txq, TxDesc{Buf: pk.Desc.Buf, Len: uint16(n)})
		case Forward:
			switch {
			case fwd == nil:
				p.c.txDropped.Add(1)
			case len(pk.Data) == 0 || len(pk.Data) > fwd.bufSize:
				invalid++
			default:
				if b, ok := fwd.dev.AllocBuf(); ok {
					n := copy(fwd.dev.Packet(b, len(pk.Data)), pk.Data)
					fwdq = append(fwdq, TxDesc{Buf: b, Len: uint16(n)})
				} else {
					p.c.txDropped.Add(1)
				}
			}
			free = append(free, pk.Desc.Buf)
		default:
			free = append(free, pk.Desc.Buf)
		}
	}
	if invalid > 0 {
		p.c.txInvalid.Add(invalid)
	}
	if len(txq) > 0 {
		free = p.transmit(p, txq, free, true)
	}
	if len(fwdq) > 0 {
		fwdFree := fwd.transmit(p, fwdq, nil, false)
		if len(fwdFree) > 0 {
			fwd.dev.FreeBufs(fwdFree)
		}
	}
	p.txq, p.fwdq = txq[:0], fwdq[:0]
	return free
}

// bufSize is the size of dev's packet buffers.
func bufSize(dev Device) int {
	if b, ok := dev.(BufSizer); ok && b.BufSize() > 0 {
		return min(b.BufSize(), 1<<16-1) // TxDesc.Len is 16 bits
	}
	return DefaultBufSize
}

// loggerSetter is implemented by handlers that log (Capture, Chain): the
// port gives them its logger.
type loggerSetter interface {
	SetLogger(*zap.Logger)
}

// transmit sends q on port t's device; frames the TX ring refuses are
// counted on from and their buffers appended to free.
func (t *Port) transmit(from *Port, q []TxDesc, free []uint32, _ bool) []uint32 {
	t.txMu.Lock()
	k := t.dev.TxBurst(q)
	if k < len(q) {
		// Make room and try once more before giving up on the rest.
		t.dev.ReclaimTx()
		k += t.dev.TxBurst(q[k:])
	}
	t.txMu.Unlock()
	var bytes uint64
	for _, d := range q[:k] {
		bytes += uint64(d.Len)
	}
	t.c.txPackets.Add(uint64(k))
	t.c.txBytes.Add(bytes)
	for _, d := range q[k:] {
		free = append(free, d.Buf)
	}
	if k < len(q) {
		from.c.txDropped.Add(uint64(len(q) - k))
	}
	return free
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

// ErrFrameSize is wrapped by Transmit for a frame that is empty or larger
// than a packet buffer.
var ErrFrameSize = errors.New("driver: frame size")

// Transmit queues frames from outside the bottom half (a packet generator):
// it copies each into a device buffer. It returns how many were queued,
// which is fewer than len(frames) when the buffer pool or the TX ring is
// full. A frame that is empty or larger than a buffer is refused before
// anything is queued: the error wraps ErrFrameSize and nothing is sent.
func (p *Port) Transmit(frames [][]byte) (int, error) {
	for i, f := range frames {
		if len(f) == 0 || len(f) > p.bufSize {
			return 0, fmt.Errorf("%w: frame %d is %d bytes, want 1 to %d", ErrFrameSize, i, len(f), p.bufSize)
		}
	}
	q := p.txq[:0:0]
	for _, f := range frames {
		b, ok := p.dev.AllocBuf()
		if !ok {
			break
		}
		n := copy(p.dev.Packet(b, len(f)), f)
		q = append(q, TxDesc{Buf: b, Len: uint16(n)})
	}
	free := p.transmit(p, q, nil, false)
	sent := len(q) - len(free)
	if len(free) > 0 {
		p.dev.FreeBufs(free)
	}
	return sent, nil
}

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
