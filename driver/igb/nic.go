package igb

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/mmio"
)

// DefaultRingSize is the RX and TX ring length when Options leave it 0.
const DefaultRingSize = 256

// Options configure New. The zero value is one queue, 256-descriptor rings,
// no interrupt throttling, no vectors (polling), and the MAC's own filter.
type Options struct {
	// Queues is the number of RX/TX queue pairs: 1..Model.MaxQueues, and
	// at most the MSI-X vectors minus one when Vectors are given. 0 means 1.
	Queues int
	// RxRingSize and TxRingSize are descriptors per ring: a multiple of 8
	// (RDLEN/TDLEN are multiples of 128 bytes, 82576 8.10.5) from 8 to
	// 4096. 0 means DefaultRingSize. At most size-1 are ever in use.
	RxRingSize, TxRingSize int
	// RSS spreads flows over the queues (MRQC, RETA, RSSRK). nil with
	// Queues > 1 means driver.NewRSS(Queues); it must be nil with 1 queue.
	RSS *driver.RSS
	// ITR is the minimum interval between interrupts of one vector, in
	// EITR's units of 1 µs (82576 8.8.14: bits 2-14, 0.25 µs units << 2).
	// 0 disables throttling.
	ITR uint32
	// Promisc accepts every unicast and multicast frame (RCTL.UPE|MPE).
	Promisc bool
	// Vectors are the MSI-X vectors the caller attached: vector q serves
	// queue q (its RX and TX), vector Queues the "other" causes (link). nil
	// means no interrupts reach the caller (polling, or a fake).
	Vectors []driver.Vector
	// LinkWait is how long New waits for auto-negotiation (STATUS.LU); 0
	// means 3 s. The NIC opens with the link down if it does not come up.
	LinkWait time.Duration
}

// NIC is an opened igb-family controller: the hardware layer, implementing
// driver.NIC over registers and a DMA allocator that the caller owns.
type NIC struct {
	regs  mmio.Regs
	model Model
	opts  Options
	pool  *driver.BufPool
	info  driver.NICInfo
	rxMem []*dma.Region
	txMem []*dma.Region
	rx    []*driver.RxRing
	tx    []*driver.TxRing

	// on[v] are the causes software enabled on vector v (SetIRQ); the
	// vector is unmasked while armed(v, on[v]).
	on []atomic.Uint32

	statsMu sync.Mutex // guards hw, carry and the stats register reads
	hw      HWStats
	carry   HWStats      // read by Reinit before its reset, not yet reported
	wd      []watchState // CheckHang only, per TX queue

	closed atomic.Bool
}

var (
	_ driver.NIC      = (*NIC)(nil)
	_ driver.Resetter = (*NIC)(nil)
)

// ErrBadOptions wraps invalid Options.
var ErrBadOptions = errors.New("igb: bad options")

func (o *Options) normalize(m Model) error {
	if o.Queues == 0 {
		o.Queues = 1
	}
	if o.Queues < 1 || o.Queues > m.MaxQueues {
		return fmt.Errorf("%w: %d queues, the %v has 1..%d", ErrBadOptions, o.Queues, m, m.MaxQueues)
	}
	for _, s := range []*int{&o.RxRingSize, &o.TxRingSize} {
		if *s == 0 {
			*s = DefaultRingSize
		}
		if *s < 8 || *s > 4096 || *s%8 != 0 {
			return fmt.Errorf("%w: ring of %d descriptors: want a multiple of 8 from 8 to 4096", ErrBadOptions, *s)
		}
	}
	if o.RSS != nil && o.Queues == 1 {
		return fmt.Errorf("%w: RSS asked of a single queue", ErrBadOptions)
	}
	if o.RSS == nil && o.Queues > 1 {
		r, err := driver.NewRSS(o.Queues)
		if err != nil {
			return err
		}
		o.RSS = r
	}
	if o.RSS != nil {
		for i, q := range o.RSS.RETA {
			if int(q) >= o.Queues {
				return fmt.Errorf("%w: RETA[%d] names queue %d of %d", ErrBadOptions, i, q, o.Queues)
			}
		}
	}
	if o.ITR > 0x3FFF {
		return fmt.Errorf("%w: ITR %d µs above EITR's 16383", ErrBadOptions, o.ITR)
	}
	if len(o.Vectors) != 0 && len(o.Vectors) != o.Queues+1 {
		return fmt.Errorf("%w: %d vectors for %d queues: want one per queue and one for link", ErrBadOptions, len(o.Vectors), o.Queues)
	}
	if o.LinkWait == 0 {
		o.LinkWait = 3 * time.Second
	}
	return nil
}

// New resets and initialises the controller whose BAR0 is regs, with rings
// from alloc and packet buffers from pool (which the caller keeps and closes
// after Close). Its rings are filled and interrupts enabled when it returns.
// On error nothing stays allocated and the device is left reset.
func New(regs mmio.Regs, alloc dma.Allocator, pool *driver.BufPool, model Model, opts Options) (*NIC, error) {
	if model.MaxQueues == 0 {
		return nil, fmt.Errorf("%w: model %q", ErrUnsupportedDevice, model.Name)
	}
	if err := opts.normalize(model); err != nil {
		return nil, err
	}
	if pool == nil || pool.Len() < opts.Queues*opts.RxRingSize {
		return nil, fmt.Errorf("%w: the pool must hold at least one full RX ring per queue (%d buffers)", ErrBadOptions, opts.Queues*opts.RxRingSize)
	}
	n := &NIC{regs: regs, model: model, opts: opts, pool: pool}
	if err := n.allocate(alloc); err != nil {
		n.release()
		return nil, fmt.Errorf("igb: new %v: %w", model, err)
	}
	if err := n.init(); err != nil {
		n.stop()
		n.release()
		return nil, fmt.Errorf("igb: new %v: %w", model, err)
	}
	return n, nil
}

// Model is the controller's model.
func (n *NIC) Model() Model { return n.model }

// Info describes the NIC (driver.NIC).
func (n *NIC) Info() *driver.NICInfo { return &n.info }

// MAC is the station address.
func (n *NIC) MAC() net.HardwareAddr { return n.info.MAC }

func (n *NIC) rd(r Reg) uint32     { return n.regs.Read32(uint32(r)) }
func (n *NIC) wr(r Reg, v uint32)  { n.regs.Write32(uint32(r), v) }
func (n *NIC) set(r Reg, b uint32) { n.wr(r, n.rd(r)|b) }
func (n *NIC) clr(r Reg, b uint32) { n.wr(r, n.rd(r)&^b) }

// Close stops the device: interrupts masked, RX and TX off, reset (which
// ends its DMA), then returns every posted or in-flight buffer to the pool
// and frees the rings. The pool and the bus stay the caller's. Idempotent.
func (n *NIC) Close() error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	n.stop()
	n.release()
	return nil
}
