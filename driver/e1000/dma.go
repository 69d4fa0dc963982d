package e1000

import (
	"errors"
	"fmt"

	"github.com/uiodrv/uiodrv/dma"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

// The NIC's descriptor rings: allocated by New, released by Close only once
// a reset has stopped the NIC from writing them. The packet buffers are the
// caller's driver.BufPool.

// allocate gets the descriptor rings (SDM 14.4/14.5: 16-byte aligned, length
// a multiple of 128 bytes) and sets up their bookkeeping.
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
	if n.rxMem, err = ring("RX", n.opts.RxRingSize); err != nil {
		return err
	}
	if n.txMem, err = ring("TX", n.opts.TxRingSize); err != nil {
		return err
	}
	if n.rx, err = driver.NewRxRing(rxCodec{}, n.pool, n.regs, uint32(RDT(0)),
		n.rxMem.Sub(0, n.opts.RxRingSize*DescSize), n.opts.RxRingSize, DescSize); err != nil {
		return err
	}
	n.tx, err = driver.NewTxRing(txCodec{}, n.pool, n.regs, uint32(TDT(0)),
		n.txMem.Sub(0, n.opts.TxRingSize*DescSize), n.opts.TxRingSize, DescSize)
	return err
}

// release gives the buffers the rings hold back to the pool and closes the
// rings' memory. Idempotent (Region.Close is).
func (n *NIC) release() error {
	if n.rx != nil {
		n.rx.Release()
	}
	if n.tx != nil {
		n.tx.Release()
	}
	var errs []error
	for _, r := range []*dma.Region{n.rxMem, n.txMem} {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}

// Close masks interrupts, stops RX and TX, resets the device and, once the
// reset has completed, gives the rings' buffers back to the pool and
// releases the rings. The pool stays the caller's: free it after Close.
//
// If the reset fails (CTRL.RST never clears), the NIC may still be running
// and writing its rings and buffers: Close then keeps the rings and every
// posted buffer (leaks them on purpose: never unmapped, never reused) and
// says so in its error; DMAKept reports it, and the pool's memory must be
// kept too. A driver that owns the bus also turns bus mastering off before
// Close (Device.Close does both).
//
// It is idempotent and returns the first call's result; it must not run
// concurrently with other methods.
func (n *NIC) Close() error {
	n.closeOnce.Do(func() {
		n.wr(intel.IMC, uint32(CauseAll))
		// Reset quiesces RX/TX, waits for DMA in flight and resets, so the
		// NIC no longer reads the rings or writes buffers we are about to
		// release (with UIO there is no IOMMU to stop it).
		err := n.reset()
		if n.model.is82574() {
			mmio.ClearBits(n.regs, uint32(intel.CTRL_EXT), intel.CTRL_EXT_DRV_LOAD)
		}
		if err != nil {
			n.kept = true
			n.closeErr = fmt.Errorf("e1000: close %v: %w; its DMA memory (%d bytes of rings and the buffer pool) is kept, not freed, because the NIC may still write it",
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

// dmaBytes is the size of the rings.
func (n *NIC) dmaBytes() int {
	total := 0
	for _, r := range []*dma.Region{n.rxMem, n.txMem} {
		if r != nil {
			total += r.Len()
		}
	}
	return total
}
