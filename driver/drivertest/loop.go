package drivertest

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/internal/testframe"
)

// Loop is a lean single-queue in-memory NIC for measuring the core's packet
// path at host speed: its wire is saturated (every buffer posted to its RX
// ring is filled at once from a preloaded frame set, as a line that always
// has a frame waiting), and every frame given to TxBurst is on the wire at
// once (transmitted, waiting for Reclaim). Unlike Fake it takes no lock on
// the packet path and refills and reclaims in batches, so that a profile of
// a Port over it shows the core, not the fake. With LoopOptions.IRQ it has
// one real eventfd vector (RX and TX), raised when frames arrive while the RX
// cause is enabled and latched while it is masked, so the top half really
// wakes. It implements driver.Opened over a pool of its own, released by
// Close. Like Fake, it is no evidence that a real driver works.
//
// The RX operations (RxBurst, Refill) and the TX ones (TxBurst, Reclaim) are
// each called from one goroutine at a time, as driver.NIC says; the rest may
// be called from any goroutine.
type Loop struct {
	info   driver.NICInfo
	alloc  *MemAllocator
	pool   *driver.BufPool
	frames [][]byte
	txHook func(seq uint64, frame []byte)

	// RX ring: buffers posted and (the wire being saturated) already
	// filled, oldest at rxHead. Written by RX operations only; the counters
	// are atomic so that Received may read them from anywhere.
	rx             []uint32
	rxHead, rxTail atomic.Uint64 // rxTail-rxHead buffers posted; at most len(rx)-1
	// With IRQBurst, frames below rxAvail have arrived (rxHead <= rxAvail
	// <= rxTail); without it every posted buffer holds a frame.
	burst   uint64
	rxAvail atomic.Uint64
	// TX ring: transmitted buffers waiting for Reclaim; TX operations only.
	tx             []uint32
	txHead, txTail atomic.Uint64
	sent           atomic.Uint64 // frames transmitted

	target  atomic.Uint64 // Await's frame count; 0 when nobody waits
	reached chan struct{} // closed when sent reaches target (set before target)

	vecMu   sync.Mutex // guards the vector state below
	fd      int        // the vector's eventfd; -1 without IRQ or once closed
	enabled driver.Causes
	pending driver.Causes // causes that fired while masked (latched, as ICR)
	raised  bool          // an event was written and not yet acknowledged

	closeOnce sync.Once
	closeErr  error
}

// LoopOptions configures a Loop.
type LoopOptions struct {
	// RingSize is the RX and the TX ring's descriptor count (one slot stays
	// free, as on the Intel NICs); 0 means 512.
	RingSize int
	// Buffers is the pool's size; 0 means twice RingSize, which a Port's
	// ring (driver.DefaultRingSize) always holds: no DropRingFull.
	Buffers int
	// IRQ gives the Loop one eventfd vector for its queue; without it the
	// Loop suits only the busy-poll mode.
	IRQ bool
	// Frames is the wire's frame set, received in turn; nil means
	// LoopFrames(64, LoopMAC, LoopPeer): minimum-size (60-byte) UDP test
	// frames.
	Frames [][]byte
	// IRQBurst, when positive, makes the wire interrupt-paced: frames
	// arrive IRQBurst at a time, the next burst when the previous one has
	// been harvested and the RX cause is enabled again (SetIRQ). Each
	// burst then costs an interrupt and a bottom-half run, as on a NIC
	// whose interrupt moderation hands over a batch per interrupt. Needs
	// IRQ. Zero: a saturated wire, every posted buffer filled at once.
	IRQBurst int
	// TxHook, when set, sees every transmitted frame with its sequence
	// number (0, 1, 2... in transmit order) before TxBurst returns: a test
	// checks the bytes there. The benchmark leaves it nil.
	TxHook func(seq uint64, frame []byte)
}

// LoopMAC is the Loop's MAC address, and LoopPeer the far end's: the
// default frames go from LoopPeer to LoopMAC.
var (
	LoopMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	LoopPeer = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x11}
)

// LoopFrames returns n minimum-size UDP test frames from src to dst,
// flows 0..n-1.
func LoopFrames(n int, dst, src net.HardwareAddr) [][]byte {
	fs := make([][]byte, n)
	for i := range fs {
		fs[i] = testframe.Build(make([]byte, testframe.MinLen), testframe.Frame{
			Dst: [6]byte(dst), Src: [6]byte(src), Flow: i, Seq: uint64(i), Len: testframe.MinLen})
	}
	return fs
}

// NewLoop builds a Loop with its own buffer pool. Bad options change nothing.
func NewLoop(o LoopOptions) (*Loop, error) {
	if o.RingSize == 0 {
		o.RingSize = 512
	}
	if o.Buffers == 0 {
		o.Buffers = 2 * o.RingSize
	}
	if o.RingSize < 4 || o.RingSize > 1<<16 || o.Buffers < 1 {
		return nil, fmt.Errorf("%w: loop NIC: ring %d (4..65536), %d buffers", driver.ErrBadConfig, o.RingSize, o.Buffers)
	}
	if o.Frames == nil {
		o.Frames = LoopFrames(64, LoopMAC, LoopPeer)
	}
	for i, f := range o.Frames {
		if len(f) == 0 || len(f) > driver.BufSize {
			return nil, fmt.Errorf("%w: loop NIC: frame %d is %d bytes, want 1..%d", driver.ErrBadConfig, i, len(f), driver.BufSize)
		}
	}
	if o.IRQBurst < 0 || o.IRQBurst > 0 && !o.IRQ {
		return nil, fmt.Errorf("%w: loop NIC: IRQ burst %d needs IRQ", driver.ErrBadConfig, o.IRQBurst)
	}
	if len(o.Frames) == 0 {
		return nil, fmt.Errorf("%w: loop NIC: empty frame set", driver.ErrBadConfig)
	}
	l := &Loop{alloc: NewMemAllocator(), frames: o.Frames, txHook: o.TxHook,
		rx: make([]uint32, o.RingSize), tx: make([]uint32, o.RingSize), fd: -1, burst: uint64(o.IRQBurst)}
	l.info = driver.NICInfo{Name: "loop", MAC: LoopMAC, Queues: 1, MaxQueues: 1}
	var err error
	if l.pool, err = driver.NewBufPool(l.alloc, o.Buffers); err != nil {
		return nil, fmt.Errorf("loop NIC: %w", err)
	}
	if o.IRQ {
		if l.fd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
			_ = l.pool.Close()
			return nil, fmt.Errorf("loop NIC: eventfd: %w", err)
		}
		l.info.Vectors = []driver.Vector{{Name: "loop-q0", Fd: l.fd, Causes: driver.CauseRX | driver.CauseTX}}
		l.info.QueueVector = []int{0}
	}
	return l, nil
}

var (
	_ driver.NIC    = (*Loop)(nil)
	_ driver.Opened = (*Loop)(nil)
)

// Queues returns the Loop and its pool, as a Port takes them.
func (l *Loop) Queues() (driver.NIC, driver.Buffers) { return l, l.pool }

// Info describes the Loop.
func (l *Loop) Info() *driver.NICInfo { return &l.info }

// Transmitted is how many frames the Loop has transmitted; Received how many
// it has handed out through RxBurst.
func (l *Loop) Transmitted() uint64 { return l.sent.Load() }
func (l *Loop) Received() uint64    { return l.rxHead.Load() }

// Await returns a channel closed once n frames in all have been
// transmitted. One Await at a time.
func (l *Loop) Await(n uint64) <-chan struct{} {
	c := make(chan struct{})
	l.reached = c
	l.target.Store(n)
	l.checkTarget() // n may already be reached
	return c
}

func (l *Loop) checkTarget() {
	if t := l.target.Load(); t != 0 && l.sent.Load() >= t && l.target.CompareAndSwap(t, 0) {
		close(l.reached)
	}
}

// RxBurst hands out up to len(out) received frames. Each is written into its
// buffer here, standing for the NIC's DMA: the handler reads real bytes.
func (l *Loop) RxBurst(q int, out []driver.RxDesc) int {
	head, tail := l.rxHead.Load(), l.rxTail.Load()
	if l.burst > 0 {
		tail = l.rxAvail.Load()
	}
	n := min(uint64(len(out)), tail-head)
	size := uint64(len(l.rx))
	for i := uint64(0); i < n; i++ {
		b := l.rx[(head+i)%size]
		f := l.frames[(head+i)%uint64(len(l.frames))]
		copy(l.pool.Packet(b, len(f)), f)
		out[i] = driver.RxDesc{Buf: b, Len: uint16(len(f))}
	}
	l.rxHead.Store(head + n)
	return int(n)
}

// Refill posts free buffers to every free RX slot and, on a saturated wire
// (they are filled at once), raises RX if it posted any.
func (l *Loop) Refill(q int) int {
	head, tail := l.rxHead.Load(), l.rxTail.Load()
	size := uint64(len(l.rx))
	room := size - 1 - (tail - head)
	posted := 0
	for room > 0 {
		// At most two contiguous stretches of the ring.
		i := tail % size
		k := l.pool.GetMany(l.rx[i:min(size, i+room)])
		if k == 0 {
			break
		}
		tail += uint64(k)
		room -= uint64(k)
		posted += k
	}
	l.rxTail.Store(tail)
	if posted > 0 && l.burst == 0 {
		l.raise(driver.CauseRX)
	}
	return posted
}

// TxBurst transmits frames until the TX ring is full (buffers wait there for
// Reclaim) or a frame's length no buffer holds.
func (l *Loop) TxBurst(q int, pkts []driver.TxDesc) int {
	head, tail := l.txHead.Load(), l.txTail.Load()
	size := uint64(len(l.tx))
	n := min(uint64(len(pkts)), size-1-(tail-head))
	seq := l.sent.Load()
	for i := uint64(0); i < n; i++ {
		p := pkts[i]
		if p.Len == 0 || p.Len > driver.BufSize {
			n = i
			break
		}
		if l.txHook != nil {
			l.txHook(seq+i, l.pool.Packet(p.Buf, int(p.Len)))
		}
		l.tx[(tail+i)%size] = p.Buf
	}
	l.txTail.Store(tail + n)
	l.sent.Add(n)
	l.checkTarget()
	return int(n)
}

// Reclaim returns every transmitted buffer to the pool.
func (l *Loop) Reclaim(q int) int {
	head, tail := l.txHead.Load(), l.txTail.Load()
	size := uint64(len(l.tx))
	n := tail - head
	for head != tail {
		i := head % size
		end := min(size, i+(tail-head))
		l.pool.PutMany(l.tx[i:end])
		head += end - i
	}
	l.txHead.Store(head)
	return int(n)
}

// raise signals causes c on the vector: an eventfd write when they are
// enabled and no event is outstanding, a latch while they are masked.
func (l *Loop) raise(c driver.Causes) {
	l.vecMu.Lock()
	defer l.vecMu.Unlock()
	if l.fd < 0 {
		return
	}
	if l.enabled&c == 0 {
		l.pending |= c
		return
	}
	l.pending &^= c
	if l.raised {
		return // the top half has not acknowledged the last one yet: it will see these frames
	}
	l.raised = true
	_, _ = unix.Write(l.fd, eventOne[:])
}

// eventOne is what an eventfd write adds. A package variable, not a local:
// under the race detector unix.Write's raceReadRange would move a local to
// the heap, one allocation per interrupt.
var eventOne = [8]byte{1}

// AckIRQ acknowledges the vector (read-to-clear, as ICR): the next cause
// that fires writes the eventfd again. The saturated wire always has RX.
func (l *Loop) AckIRQ(vec int) driver.Causes {
	l.vecMu.Lock()
	defer l.vecMu.Unlock()
	l.raised, l.pending = false, 0
	return driver.CauseRX | driver.CauseTX
}

// SetIRQ enables or masks causes; enabling a latched cause raises it.
func (l *Loop) SetIRQ(vec int, c driver.Causes, on bool) {
	l.vecMu.Lock()
	if !on {
		l.enabled &^= c
		l.vecMu.Unlock()
		return
	}
	l.enabled |= c
	p := l.pending & c
	l.vecMu.Unlock()
	if c&driver.CauseRX != 0 && l.burst > 0 && l.arrive() {
		p |= driver.CauseRX
	}
	if p != 0 {
		l.raise(p)
	}
}

// arrive delivers the next IRQBurst frames into posted buffers once the
// last burst has been harvested, and reports whether frames wait. Called
// where the RX cause is enabled, from the RX goroutine's side (NewPort, a
// bottom half re-enabling) or from a top half while the RX side sleeps.
func (l *Loop) arrive() bool {
	head, avail := l.rxHead.Load(), l.rxAvail.Load()
	if head == avail {
		avail = min(l.rxTail.Load(), head+l.burst)
		l.rxAvail.Store(avail)
	}
	return avail > head
}

// Trigger raises RX from software (if enabled).
func (l *Loop) Trigger(vec int) { l.raise(driver.CauseRX) }

// ReadStats reports the link (always up at 1000 Mb/s) and no counters: the
// Loop has none beyond Transmitted and Received.
func (l *Loop) ReadStats(s *driver.NICStats) { s.Link, s.SpeedMbps = true, 1000 }

// Close closes the eventfd and releases the pool (nothing writes it any
// more: the Loop has no DMA of its own). Idempotent.
func (l *Loop) Close() error {
	l.closeOnce.Do(func() {
		l.vecMu.Lock()
		if l.fd >= 0 {
			l.closeErr = unix.Close(l.fd)
			l.fd = -1
		}
		l.vecMu.Unlock()
		l.closeErr = errors.Join(l.closeErr, l.pool.Close())
	})
	return l.closeErr
}
