package virtio

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
)

// DefaultRingSize is the number of descriptors per virtqueue when Options
// leave it 0: QEMU's queue size, 128 frames in flight each way.
const DefaultRingSize = 256

// ErrBadOptions wraps invalid Options and what the device cannot do.
var ErrBadOptions = errors.New("virtio: bad options")

// Options configure New. The zero value is one queue pair of
// DefaultRingSize buffers each way, no vectors (polling), and
// ACCESS_PLATFORM taken when offered but not required.
type Options struct {
	// Queues is the number of RX/TX queue pairs, 1..the device's
	// max_virtqueue_pairs (VIRTIO_NET_F_MQ). 0 means 1.
	Queues int
	// RingSize is the number of descriptors per RX and per TX virtqueue,
	// a power of two, capped at the device's queue size (QEMU's is 256,
	// rx_queue_size and tx_queue_size); each frame takes two (header and
	// buffer). 0 means DefaultRingSize.
	RingSize int
	// RequireAccessPlatform refuses a device without
	// VIRTIO_F_ACCESS_PLATFORM: under VFIO its DMA addresses are IOVAs.
	RequireAccessPlatform bool
	// Vectors are the MSI-X vectors the caller attached: vector q serves
	// queue pair q, vector Queues the configuration change (link). nil
	// means no interrupts (polling, or a fake).
	Vectors []driver.Vector
}

// NIC is an opened virtio-net device on a Transport: driver.NIC over split
// virtqueues.
type NIC struct {
	tr    *Transport
	opts  Options
	pool  *driver.BufPool
	alloc dma.Allocator
	info  driver.NICInfo

	features uint64
	maxPairs int
	rx, tx   []*vq
	ctrl     *vq
	wd       []txWatch // CheckHang's, per TX queue (the watchdog's goroutine only)
	rxStats  []queueStats
	txStats  []queueStats

	statsMu sync.Mutex
	last    driver.NICStats // totals at the previous ReadStats

	closed atomic.Bool
}

// queueStats are one queue's software counters: virtio has no hardware
// statistics. Written by the queue's path, read by ReadStats.
type queueStats struct {
	packets, bytes, errors atomic.Uint64
	_                      [40]byte // own cache line: queues run on different CPUs
}

var _ driver.NIC = (*NIC)(nil)

func (o *Options) normalize() error {
	if o.Queues == 0 {
		o.Queues = 1
	}
	if o.RingSize == 0 {
		o.RingSize = DefaultRingSize
	}
	switch {
	case o.Queues < 1 || o.Queues > driver.MaxQueues:
		return fmt.Errorf("%w: %d queues", ErrBadOptions, o.Queues)
	case o.RingSize < 8 || o.RingSize > 32768 || o.RingSize&(o.RingSize-1) != 0:
		return fmt.Errorf("%w: ring of %d descriptors: want a power of two from 8 to 32768", ErrBadOptions, o.RingSize)
	case len(o.Vectors) != 0 && len(o.Vectors) != o.Queues+1:
		return fmt.Errorf("%w: %d vectors for %d queues: want one per queue pair and one for configuration changes", ErrBadOptions, len(o.Vectors), o.Queues)
	}
	return nil
}

// New resets and initialises the device behind tr (virtio 1.2 3.1.1), with
// virtqueues from alloc and packet buffers from pool (which the caller
// keeps and closes after Close). RX queues are filled and interrupts on when
// it returns. Everything it refuses (a legacy device, missing
// ACCESS_PLATFORM, more queues than offered, too small a queue) it refuses
// before DRIVER_OK; on error the device is left reset and nothing stays
// allocated.
func New(tr *Transport, alloc dma.Allocator, pool *driver.BufPool, opts Options) (*NIC, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if pool == nil || pool.Len() < opts.Queues*opts.RingSize/2 {
		return nil, fmt.Errorf("%w: the pool must hold at least one full RX ring per queue (%d buffers)", ErrBadOptions, opts.Queues*opts.RingSize/2)
	}
	n := &NIC{tr: tr, opts: opts, pool: pool, alloc: alloc,
		rxStats: make([]queueStats, opts.Queues), txStats: make([]queueStats, opts.Queues)}
	if err := n.init(); err != nil {
		n.reset()
		n.release()
		return nil, fmt.Errorf("virtio-net: %w", err)
	}
	return n, nil
}

// init runs the device initialisation of virtio 1.2 3.1.1.
func (n *NIC) init() error {
	if err := n.reset(); err != nil {
		return err
	}
	n.setStatus(StatusAcknowledge)
	n.setStatus(StatusDriver)
	if err := n.negotiate(); err != nil {
		return err
	}
	q := n.opts.Queues
	first := n.info.Name == "" // Reinit keeps what Info already returned
	if first {
		n.info = driver.NICInfo{Name: "virtio-net", Queues: q, MaxQueues: n.maxPairs, MAC: make(net.HardwareAddr, 6),
			Extras: []string{"rx_bad_used", "tx_bad_used", "notifies"}}
		for i := range n.info.MAC {
			n.info.MAC[i] = n.tr.Device.Read8(NetCfgMAC + uint32(i))
		}
		n.wd = make([]txWatch, q)
	}
	vec := func(v int) uint16 {
		if len(n.opts.Vectors) == 0 {
			return MSIXNoVector
		}
		return uint16(v)
	}
	c := n.tr.Common
	c.Write16(CommonMSIXConfig, vec(q))
	if got := c.Read16(CommonMSIXConfig); got != vec(q) {
		return fmt.Errorf("configuration MSI-X vector %d refused (reads %#x)", vec(q), got)
	}
	for i := 0; i < q; i++ {
		for _, tx := range []bool{false, true} {
			idx := uint16(2*i) + map[bool]uint16{false: 0, true: 1}[tx]
			v, err := n.queue(i, idx, tx)
			if err != nil {
				return err
			}
			if err := n.setupQueue(v, vec(i)); err != nil {
				return err
			}
			if len(n.opts.Vectors) == 0 {
				v.suppress(true)
			}
		}
	}
	if q > 1 {
		if err := n.setupCtrl(); err != nil {
			return err
		}
	}
	if len(n.opts.Vectors) > 0 && first {
		n.info.Vectors = n.opts.Vectors
		n.info.QueueVector = make([]int, q)
		for i := range n.info.QueueVector {
			n.info.QueueVector[i] = i
		}
	}
	for i := range n.rx {
		n.fill(i, false)
	}
	n.setStatus(StatusDriverOK)
	if c.Read8(CommonStatus)&StatusNeedsReset != 0 {
		return errors.New("device needs a reset right after DRIVER_OK")
	}
	if q > 1 {
		if err := n.setPairs(q); err != nil {
			return err
		}
	}
	// The buffers were published before DRIVER_OK, when the device must
	// not be notified (3.1.1): tell it now.
	for _, r := range n.rx {
		r.kick()
	}
	return nil
}

// queue returns pair i's RX or TX virtqueue (device index idx): the one
// Reinit rewound, or a new one of the ring size capped at the device's.
func (n *NIC) queue(i int, idx uint16, tx bool) (*vq, error) {
	qs := &n.rx
	if tx {
		qs = &n.tx
	}
	if i < len(*qs) {
		return (*qs)[i], nil
	}
	size := min(n.opts.RingSize, floorPow2(n.queueSize(idx)))
	if size < 8 {
		return nil, fmt.Errorf("%w: queue %d holds %d descriptors, fewer than 8 (4 frames): give the device larger queues (QEMU: rx_queue_size, tx_queue_size)",
			ErrBadOptions, idx, n.queueSize(idx))
	}
	v, err := newVQ(n.alloc, idx, size, !tx)
	if err != nil {
		return nil, err
	}
	*qs = append(*qs, v)
	return v, nil
}

// Info describes the NIC (driver.NIC).
func (n *NIC) Info() *driver.NICInfo { return &n.info }

// MAC is the station address from the device configuration.
func (n *NIC) MAC() net.HardwareAddr { return n.info.MAC }

// Close resets the device (status 0: it stops using the rings), then
// returns every posted or in-flight buffer to the pool and frees the
// virtqueues. The pool and the transport stay the caller's. Idempotent.
func (n *NIC) Close() error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := n.reset()
	if err != nil {
		// The device may still write the rings: keep them.
		return fmt.Errorf("virtio-net: close: %w", err)
	}
	n.release()
	return nil
}

func (n *NIC) release() {
	for _, qs := range [][]*vq{n.rx, n.tx} {
		for _, q := range qs {
			q.release(n.pool)
		}
	}
	if n.ctrl != nil {
		n.ctrl.mem.Close()
	}
}

// raise signals vector v from software: its fd is the eventfd VFIO signals
// for the MSI-X message, so the top half cannot tell the two apart.
func (n *NIC) raise(v int) {
	if v < len(n.opts.Vectors) {
		_, _ = unix.Write(n.opts.Vectors[v].Fd, eventOne[:])
	}
}

// floorPow2 is the largest power of two not above n (0 for n < 1): a split
// virtqueue's size need not be one, but the driver's ring arithmetic wants it.
func floorPow2(n int) int {
	p := 0
	for k := 1; k <= n; k <<= 1 {
		p = k
	}
	return p
}

// eventOne is the 8-byte count an eventfd write adds. A package variable,
// because a local array handed to write(2) escapes to the heap, and these
// writes are on the packet path, which allocates nothing.
var eventOne = [8]byte{1}
