package e1000

import (
	"errors"
	"fmt"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/mmio"
)

// The NIC's DMA memory (descriptor rings, buffer pool): allocated by New,
// released by Close only once a reset has stopped the NIC from writing it.

// allocate gets the descriptor rings and the buffer pool (SDM 14.4/14.5:
// rings 16-byte aligned, length a multiple of 128 bytes).
func (n *NIC) allocate(alloc dma.Allocator) error {
	ring := func(what string, size int) (*dma.Region, error) {
		r, err := alloc.Alloc(size * DescSize)
		if err != nil {
			return nil, fmt.Errorf("allocate %s ring: %w", what, err)
		}
		// The NIC reads the ring from one base address: it must be
		// contiguous for the device (dma.Region.Segment).
		if r.Len() < size*DescSize || r.Segment() < size*DescSize || r.Addr()%16 != 0 || !aligned(r.Bytes(), 16) {
			r.Close()
			return nil, fmt.Errorf("allocate %s ring: %v is too small, not contiguous or not 16-byte aligned", what, r)
		}
		return r, nil
	}
	var err error
	if n.rxRing, err = ring("RX", n.opts.RxRingSize); err != nil {
		return err
	}
	if n.txRing, err = ring("TX", n.opts.TxRingSize); err != nil {
		return err
	}
	if n.pool, err = newPool(alloc, n.opts.Buffers); err != nil {
		return err
	}
	n.rxDescs = n.rxRing.Sub(0, n.opts.RxRingSize*DescSize)
	n.txDescs = n.txRing.Sub(0, n.opts.TxRingSize*DescSize)
	n.rxMask = uint32(n.opts.RxRingSize - 1)
	n.txMask = uint32(n.opts.TxRingSize - 1)
	n.rxBufs = make([]uint32, n.opts.RxRingSize)
	n.txBufs = make([]uint32, n.opts.TxRingSize)
	for i := range n.rxBufs {
		n.rxBufs[i] = noBuf
	}
	for i := range n.txBufs {
		n.txBufs[i] = noBuf
	}
	n.rxFill = make([]uint32, n.opts.RxRingSize)
	n.txFree = make([]uint32, n.opts.TxRingSize)
	n.txRS = make([]uint32, n.opts.TxRingSize)
	return nil
}

// release closes every DMA region. Idempotent (Region.Close is).
func (n *NIC) release() error {
	var errs []error
	for _, r := range []*dma.Region{n.rxRing, n.txRing} {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	if n.pool != nil {
		errs = append(errs, n.pool.close())
	}
	return errors.Join(errs...)
}

// Close masks interrupts, stops RX and TX, resets the device and, once the
// reset has completed, releases every DMA region. Buffers and views from
// Packet are invalid afterwards.
//
// If the reset fails (CTRL.RST never clears), the NIC may still be running
// and writing its rings and buffers: Close then keeps every DMA region
// (leaks it on purpose: never unmapped, never reused) and says so in its
// error; DMAKept reports it. A driver that owns the bus should also turn bus
// mastering off before Close and keep the backend's memory (Device.Close
// does both).
//
// It is idempotent and returns the first call's result; it must not run
// concurrently with other methods.
func (n *NIC) Close() error {
	n.closeOnce.Do(func() {
		n.wr(IMC, uint32(CauseAll))
		// Reset quiesces RX/TX, waits for DMA in flight and resets, so the
		// NIC no longer reads the rings or writes buffers we are about to
		// release (with UIO there is no IOMMU to stop it).
		err := n.reset()
		if n.model.is82574() {
			mmio.ClearBits(n.regs, uint32(CTRL_EXT), CTRL_EXT_DRV_LOAD)
		}
		if err != nil {
			n.kept = true
			n.closeErr = fmt.Errorf("e1000: close %v: %w; its DMA memory (%d bytes) is kept, not freed, because the NIC may still write it",
				n.model, err, n.dmaBytes())
			return
		}
		if err := n.release(); err != nil {
			n.closeErr = fmt.Errorf("e1000: close %v: %w", n.model, err)
		}
	})
	return n.closeErr
}

// DMAKept reports whether Close kept the DMA memory because the reset failed.
func (n *NIC) DMAKept() bool { return n.kept }

// dmaBytes is the size of every DMA region the NIC holds.
func (n *NIC) dmaBytes() int {
	total := 0
	for _, r := range []*dma.Region{n.rxRing, n.txRing} {
		if r != nil {
			total += r.Len()
		}
	}
	if n.pool != nil && n.pool.mem != nil {
		total += n.pool.mem.Len()
	}
	return total
}
