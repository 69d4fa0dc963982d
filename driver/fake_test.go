package driver

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// fakeDev is a one-queue NIC and its pool in Go memory with an eventfd as its interrupt: enough
// to test the core's logic. The lab tests drive the real NIC.
type fakeDev struct {
	t       testing.TB
	mu      sync.Mutex
	bufs    [][]byte
	freeB   []uint32
	owned   map[uint32]bool // buffers outside the pool
	pending []RxDesc        // completed, not yet harvested
	rxq     [][]byte        // frames waiting for a buffer (the "wire")
	sent    [][]byte
	txFull  bool
	causes  Causes
	enabled Causes
	link    bool
	efd     int
	closed  atomic.Bool
	// intx makes the vector a level-triggered line that masks itself when
	// it fires (VFIO's automasked INTx): it fires again only after Unmask,
	// at once if a cause is still pending and enabled.
	intx       bool
	lineMasked bool
	vecs       []Vector
	unmasks    atomic.Int64
}

func newFakeDev(t testing.TB, nbufs int) *fakeDev {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDev{t: t, efd: efd, link: true, owned: map[uint32]bool{}}
	for i := 0; i < nbufs; i++ {
		d.bufs = append(d.bufs, make([]byte, 2048))
		d.freeB = append(d.freeB, uint32(i))
	}
	t.Cleanup(func() { unix.Close(efd) })
	d.vecs = []Vector{{Name: "fake", Fd: d.efd, Causes: CauseRX | CauseTX | CauseLink}}
	return d
}

// newFakeINTx is a fake device whose vector is an automasked INTx line.
func newFakeINTx(t testing.TB, nbufs int) *fakeDev {
	d := newFakeDev(t, nbufs)
	d.intx = true
	d.vecs[0].Unmask = d.unmaskLine
	return d
}

// fireLocked decides whether a pending, enabled cause fires now: an INTx
// line that is masked holds it until unmasked. d.mu held.
func (d *fakeDev) fireLocked(fire bool) bool {
	if !d.intx || !fire {
		return fire
	}
	if d.lineMasked {
		return false
	}
	d.lineMasked = true
	return true
}

func (d *fakeDev) signal() {
	var one [8]byte
	binary.LittleEndian.PutUint64(one[:], 1)
	unix.Write(d.efd, one[:])
}

// unmaskLine is the vector's Unmask (VFIO_IRQ_SET_ACTION_UNMASK).
func (d *fakeDev) unmaskLine() error {
	d.unmasks.Add(1)
	d.mu.Lock()
	d.lineMasked = false
	fire := d.fireLocked(d.causes&d.enabled != 0)
	d.mu.Unlock()
	if fire {
		d.signal()
	}
	return nil
}

// Queues makes the fake an Opened device: one queue, and its own pool.
func (d *fakeDev) Queues() (NIC, Buffers) { return d, d }

func (d *fakeDev) Info() *NICInfo {
	return &NICInfo{Name: "fake", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Queues: 1, MaxQueues: 1, Vectors: d.vecs, QueueVector: []int{0}}
}

// inject puts frames on the wire and raises an RX interrupt.
func (d *fakeDev) inject(frames ...[]byte) {
	d.mu.Lock()
	d.rxq = append(d.rxq, frames...)
	d.fill()
	d.mu.Unlock()
	d.raise(CauseRX)
}

// fill moves waiting frames into buffers, as the NIC's DMA would. d.mu held.
func (d *fakeDev) fill() {
	for len(d.rxq) > 0 && len(d.freeB) > 0 {
		b := d.freeB[len(d.freeB)-1]
		d.freeB = d.freeB[:len(d.freeB)-1]
		f := d.rxq[0]
		d.rxq = d.rxq[1:]
		n := copy(d.bufs[b], f)
		var errs uint8
		if len(f) > 2048 {
			errs = 0x80
		}
		d.pending = append(d.pending, RxDesc{Buf: b, Len: uint16(n), Errors: errs})
		d.owned[b] = true
	}
}

func (d *fakeDev) raise(c Causes) {
	d.mu.Lock()
	d.causes |= c
	fire := d.enabled&c != 0
	if d.intx { // a level: asserted while any enabled cause is pending
		fire = d.enabled&d.causes != 0
	}
	fire = d.fireLocked(fire)
	d.mu.Unlock()
	if fire {
		d.signal()
	}
}

func (d *fakeDev) RxBurst(_ int, out []RxDesc) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := copy(out, d.pending)
	d.pending = d.pending[n:]
	return n
}

// Refill posts buffers: waiting frames land in them and, as on a NIC,
// that raises an RX interrupt.
func (d *fakeDev) Refill(int) int {
	d.mu.Lock()
	before := len(d.pending)
	d.fill()
	n := len(d.pending) - before
	d.mu.Unlock()
	if n > 0 {
		d.raise(CauseRX)
	}
	return n
}

func (d *fakeDev) Available() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.freeB) }

func (d *fakeDev) Trigger(int) { d.raise(CauseRX) }

func (d *fakeDev) TxBurst(_ int, pkts []TxDesc) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.txFull {
		return 0
	}
	for _, p := range pkts {
		d.sent = append(d.sent, append([]byte(nil), d.bufs[p.Buf][:p.Len]...))
		d.release(p.Buf)
	}
	return len(pkts)
}

func (d *fakeDev) release(b uint32) {
	if !d.owned[b] {
		d.t.Errorf("buffer %d freed twice or never handed out", b)
	}
	delete(d.owned, b)
	d.freeB = append(d.freeB, b)
}

func (d *fakeDev) Reclaim(int) int                 { return 0 }
func (d *fakeDev) Packet(buf uint32, n int) []byte { return d.bufs[buf][:n] }

func (d *fakeDev) Get() (uint32, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.freeB) == 0 {
		return 0, false
	}
	b := d.freeB[len(d.freeB)-1]
	d.freeB = d.freeB[:len(d.freeB)-1]
	d.owned[b] = true
	return b, true
}

func (d *fakeDev) PutMany(bufs []uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range bufs {
		d.release(b)
	}
}

func (d *fakeDev) AckIRQ(int) Causes {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.causes
	d.causes = 0
	return c
}

func (d *fakeDev) SetIRQ(_ int, c Causes, on bool) {
	if on {
		d.enableIRQ(c)
	} else {
		d.mu.Lock()
		d.enabled &^= c
		d.mu.Unlock()
	}
}

func (d *fakeDev) enableIRQ(c Causes) {
	d.mu.Lock()
	d.enabled |= c
	fire := d.fireLocked(d.causes&c != 0)
	d.mu.Unlock()
	if fire {
		d.signal()
	}
}

func (d *fakeDev) setLink(up bool) {
	d.mu.Lock()
	d.link = up
	d.mu.Unlock()
	d.raise(CauseLink)
}

func (d *fakeDev) ReadStats(s *NICStats) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s.Link, s.SpeedMbps = d.link, 1000
}

func (d *fakeDev) Close() error { d.closed.Store(true); return nil }

func (d *fakeDev) freeCount() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.freeB) }

func (d *fakeDev) sentFrames() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.sent...)
}

var (
	_ NIC     = (*fakeDev)(nil)
	_ Buffers = (*fakeDev)(nil)
)
