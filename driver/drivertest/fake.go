package drivertest

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/driver"
)

// MaxQueues is the most queues a Fake has, as the 82576.
const MaxQueues = 16

// Bug makes a Fake misbehave in one way, so that the kit's own tests can show
// that a conformance check catches it.
type Bug uint

const (
	BugCorrupt    Bug = 1 << iota // flips a byte of every 5th received frame
	BugDuplicate                  // delivers every 7th received frame twice
	BugReorderTx                  // transmits each pair of frames swapped
	BugLeak                       // Reclaim keeps one buffer for itself
	BugSplitFlows                 // spreads frames round-robin over the queues, ignoring their flow
	BugNoIRQ                      // never signals an interrupt
	BugIgnoreMask                 // signals interrupts that SetIRQ masked
	BugAllocates                  // allocates on every RxBurst
	BugCloseTwice                 // a second Close returns an error
	BugNoReset                    // Reinit returns nil and resets nothing
	BugNoFlush                    // FlushTx rings no doorbell
)

// FakeOptions configures a Fake.
type FakeOptions struct {
	Queues   int // 1..MaxQueues; 0 means 1
	RingSize int // descriptors per ring, at least 4; 0 means 64
	IRQ      bool
	Bugs     Bug
}

// ErrNoBuffer is returned by the Fake's wire when the queue a frame hashes to
// has no posted buffer: the NIC would count it as missed.
var ErrNoBuffer = errors.New("drivertest: no RX buffer posted")

// Fake is an in-memory multi-queue NIC: RSS over its queues, one eventfd
// vector per queue when FakeOptions.IRQ is set, and its own Wire. It is fine
// for unit tests and for the conformance kit, never as evidence that a real
// driver works.
type Fake struct {
	info driver.NICInfo
	bufs *driver.BufPool
	rss  *driver.RSS
	bugs Bug

	mu      sync.Mutex // guards everything below
	queues  []fakeQueue
	vecs    []fakeVector
	stats   driver.NICStats // since the last ReadStats
	sent    [][]byte        // transmitted, not yet collected
	nrecv   int             // frames received, for the bugs
	rr      int             // BugSplitFlows' next queue
	closed  bool
	closes  int
	garbage []byte
	batch   int // SetTxBatch
}

type fakeQueue struct {
	posted fifo[uint32]        // buffers the NIC may fill, oldest first
	done   fifo[driver.RxDesc] // received, not yet harvested
	tx     fifo[driver.TxDesc] // queued, not yet transmitted
	told   int                 // of tx, how many the doorbell announced
	txDone fifo[uint32]        // transmitted, not yet reclaimed
}

type fakeVector struct {
	fd      int
	enabled driver.Causes
	// pending holds the causes that fired while masked: like ICR/EICR they
	// stay latched, and unmasking them raises the vector at once (a NIC
	// that forgot them would strand frames that arrived during a poll).
	pending driver.Causes
}

// NewFake builds a Fake whose buffers come from bufs.
func NewFake(bufs *driver.BufPool, o FakeOptions) (*Fake, error) {
	if o.Queues == 0 {
		o.Queues = 1
	}
	if o.RingSize == 0 {
		o.RingSize = 64
	}
	if o.Queues < 1 || o.Queues > MaxQueues || o.RingSize < 4 {
		return nil, fmt.Errorf("%w: fake NIC: %d queues (1..%d), ring %d (>= 4)", driver.ErrBadConfig, o.Queues, MaxQueues, o.RingSize)
	}
	f := &Fake{bufs: bufs, bugs: o.Bugs}
	f.info = driver.NICInfo{
		Name: "fake", MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		Queues: o.Queues, MaxQueues: MaxQueues, RSS: o.Queues > 1,
		Extras: []string{"rx_no_buffer_per_queue_max"},
	}
	var err error
	if f.rss, err = driver.NewRSS(o.Queues); err != nil {
		return nil, err
	}
	for q := 0; q < o.Queues; q++ {
		// A ring holds RingSize-1 frames, as on the Intel NICs.
		n := o.RingSize - 1
		f.queues = append(f.queues, fakeQueue{posted: newFIFO[uint32](n), done: newFIFO[driver.RxDesc](n),
			tx: newFIFO[driver.TxDesc](n), txDone: newFIFO[uint32](n)})
		if !o.IRQ {
			continue
		}
		fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			f.closeFDs()
			return nil, fmt.Errorf("fake NIC: eventfd: %w", err)
		}
		f.vecs = append(f.vecs, fakeVector{fd: fd})
		f.info.Vectors = append(f.info.Vectors, driver.Vector{Name: fmt.Sprintf("q%d", q), Fd: fd, Causes: driver.CauseRX | driver.CauseTX})
		f.info.QueueVector = append(f.info.QueueVector, q)
	}
	return f, nil
}

var _ driver.NIC = (*Fake)(nil)

// Info describes the fake.
func (f *Fake) Info() *driver.NICInfo { return &f.info }

// RxBurst harvests received frames of queue q.
func (f *Fake) RxBurst(q int, out []driver.RxDesc) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bugs&BugAllocates != 0 {
		f.garbage = make([]byte, 64)
	}
	k := 0
	for k < len(out) {
		d, ok := f.queues[q].done.pop()
		if !ok {
			break
		}
		out[k] = d
		k++
	}
	return k
}

// Refill posts pool buffers to every free slot of queue q's RX ring.
func (f *Fake) Refill(q int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	qu := &f.queues[q]
	// Slots hold a buffer from posting until harvest.
	n := 0
	for qu.posted.room() > qu.done.len() {
		b, ok := f.bufs.Get()
		if !ok {
			break
		}
		qu.posted.push(b)
		n++
	}
	return n
}

// TxBurst queues frames on queue q, stopping at a full ring or a frame whose
// length no buffer holds.
func (f *Fake) TxBurst(q int, pkts []driver.TxDesc) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	qu := &f.queues[q]
	k := 0
	for _, p := range pkts {
		if p.Len == 0 || p.Len > driver.BufSize || qu.tx.room() <= qu.txDone.len() {
			break
		}
		qu.tx.push(p)
		k++
	}
	if f.batch <= 1 || qu.tx.len()-qu.told >= f.batch || k < len(pkts) {
		qu.told = qu.tx.len()
	}
	return k
}

// Reclaim gives transmitted buffers of queue q back to the pool.
func (f *Fake) Reclaim(q int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	qu := &f.queues[q]
	keep := 0
	if f.bugs&BugLeak != 0 {
		keep = 1
	}
	n := 0
	for qu.txDone.len() > keep {
		b, _ := qu.txDone.pop()
		f.bufs.Put(b)
		n++
	}
	return n
}

// AckIRQ consumes nothing (the core reads the eventfd) and reports the
// queue's causes.
func (f *Fake) AckIRQ(vec int) driver.Causes {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vecs[vec].pending = 0 // read-to-clear, as ICR
	return f.info.Vectors[vec].Causes
}

// SetIRQ enables or masks causes on a vector.
func (f *Fake) SetIRQ(vec int, c driver.Causes, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on {
		f.vecs[vec].enabled |= c
		if p := f.vecs[vec].pending & c; p != 0 {
			f.raise(vec, p)
		}
	} else {
		f.vecs[vec].enabled &^= c
	}
}

// Trigger raises a vector from software (if its RX cause is enabled).
func (f *Fake) Trigger(vec int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.raise(vec, driver.CauseRX)
}

func (f *Fake) raise(vec int, c driver.Causes) {
	if vec >= len(f.vecs) || f.bugs&BugNoIRQ != 0 {
		return
	}
	if f.vecs[vec].enabled&c == 0 && f.bugs&BugIgnoreMask == 0 {
		f.vecs[vec].pending |= c
		return
	}
	f.vecs[vec].pending &^= c
	var one = [8]byte{1}
	_, _ = unix.Write(f.vecs[vec].fd, one[:])
}

// ReadStats adds the counters since the last call.
func (f *Fake) ReadStats(s *driver.NICStats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.RxPackets += f.stats.RxPackets
	s.RxBytes += f.stats.RxBytes
	s.RxNoBuffer += f.stats.RxNoBuffer
	s.TxPackets += f.stats.TxPackets
	s.TxBytes += f.stats.TxBytes
	s.Extra[0] = max(s.Extra[0], f.stats.Extra[0])
	s.Link, s.SpeedMbps = !f.closed, 1000
	f.stats = driver.NICStats{}
}

// Close stops the fake and closes its eventfds. Idempotent.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	if f.closed {
		if f.bugs&BugCloseTwice != 0 {
			return errors.New("fake NIC: closed twice")
		}
		return nil
	}
	f.closed = true
	f.closeFDs()
	return nil
}

func (f *Fake) closeFDs() {
	for i := range f.vecs {
		unix.Close(f.vecs[i].fd)
		f.vecs[i].fd = -1
	}
}
