package vfio

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A device's interrupts: INTx, MSI and MSI-X vectors on eventfds
// (VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS).

// IRQInfo queries IRQ index (IRQIndexINTx, IRQIndexMSI, IRQIndexMSIX...).
func (d *Device) IRQInfo(index int) (IRQInfo, error) {
	var ii IRQInfo
	err := d.with(func(fd int) error {
		r := irqInfo{Argsz: 16, Index: uint32(index)}
		if _, err := ioctlPtr(fd, ioctlDeviceGetIRQInfo, &r); err != nil {
			return fmt.Errorf("vfio: get info of IRQ index %d of %s: %w", index, d.Name, err)
		}
		ii = IRQInfo{Index: index, Flags: r.Flags, Count: int(r.Count)}
		return nil
	})
	return ii, err
}

// irqSetBuf builds struct vfio_irq_set followed by its data.
func irqSetBuf(flags uint32, index, start, count int, fds []int32) []byte {
	buf := make([]byte, sizeofIRQSetHeader+4*len(fds))
	putIRQSet(buf, flags, index, start, count, fds)
	return buf
}

// irqSetArg is irqSetBuf without an allocation when there are no eventfds:
// the Device's own buffer, which the caller must hold d.mu to use.
func (d *Device) irqSetArg(flags uint32, index, start, count int, fds []int32) []byte {
	if len(fds) > 0 {
		return irqSetBuf(flags, index, start, count, fds)
	}
	putIRQSet(d.irqHdr[:], flags, index, start, count, nil)
	return d.irqHdr[:]
}

// putIRQSet writes struct vfio_irq_set and its eventfds into buf, which is
// exactly as long as both.
func putIRQSet(buf []byte, flags uint32, index, start, count int, fds []int32) {
	ne := binary.NativeEndian
	ne.PutUint32(buf[0:], uint32(len(buf)))
	ne.PutUint32(buf[4:], flags)
	ne.PutUint32(buf[8:], uint32(index))
	ne.PutUint32(buf[12:], uint32(start))
	ne.PutUint32(buf[16:], uint32(count))
	for i, fd := range fds {
		ne.PutUint32(buf[sizeofIRQSetHeader+4*i:], uint32(fd))
	}
}

func (d *Device) setIRQs(what string, flags uint32, index, start, count int, fds []int32) error {
	return d.with(func(fd int) error {
		// Raw: the INTx unmask runs on real-time threads after every
		// interrupt (deferral's doc.go, "Real-time threads").
		if _, err := ioctlBufRaw(fd, ioctlDeviceSetIRQs, d.irqSetArg(flags, index, start, count, fds)); err != nil {
			return fmt.Errorf("vfio: %s (IRQ index %d, vectors %d..%d) of %s: %w", what, index, start, start+count-1, d.Name, err)
		}
		return nil
	})
}

// EnableINTx attaches a new eventfd to the INTx interrupt. vfio-pci masks
// INTx each time it fires: call IRQ.Unmask (or UnmaskINTx) after
// acknowledging the device to get the next one.
func (d *Device) EnableINTx() (*IRQ, error) {
	irqs, err := d.enable(IRQIndexINTx, 1)
	if err != nil {
		return nil, err
	}
	return irqs[0], nil
}

// EnableMSI attaches n eventfds to MSI vectors 0..n-1.
func (d *Device) EnableMSI(n int) ([]*IRQ, error) { return d.enable(IRQIndexMSI, n) }

// EnableMSIX attaches n eventfds to MSI-X vectors 0..n-1 (the device must
// also route its causes to vectors, e.g. the 82574's IVAR register).
func (d *Device) EnableMSIX(n int) ([]*IRQ, error) { return d.enable(IRQIndexMSIX, n) }

var irqNames = map[int]string{IRQIndexINTx: "INTx", IRQIndexMSI: "MSI", IRQIndexMSIX: "MSI-X", IRQIndexErr: "ERR", IRQIndexReq: "REQ"}

func (d *Device) enable(index, n int) ([]*IRQ, error) {
	info, err := d.IRQInfo(index)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > info.Count {
		return nil, fmt.Errorf("%w: %s has %d %s vectors, asked for %d", ErrUnsupported, d.Name, info.Count, irqNames[index], n)
	}
	if info.Flags&IRQInfoEventfd == 0 {
		return nil, fmt.Errorf("%w: %s IRQ index %d does not signal eventfds", ErrUnsupported, d.Name, index)
	}
	irqs := make([]*IRQ, 0, n)
	fds := make([]int32, 0, n)
	fail := func(err error) ([]*IRQ, error) {
		for _, q := range irqs {
			q.Close()
		}
		return nil, err
	}
	for v := 0; v < n; v++ {
		q, err := newIRQ(index, v)
		if err != nil {
			return fail(fmt.Errorf("vfio: %s vector %d of %s: %w", irqNames[index], v, d.Name, err))
		}
		irqs = append(irqs, q)
		fds = append(fds, int32(q.efd))
	}
	if err := d.setIRQs("attach eventfds to "+irqNames[index], irqSetDataEventfd|irqSetActionTrigger, index, 0, n, fds); err != nil {
		return fail(err)
	}
	d.mu.Lock()
	d.active[index] = true
	for _, q := range irqs {
		q := q
		d.irqs[q] = struct{}{}
		q.detach = func() error {
			d.mu.Lock()
			delete(d.irqs, q)
			d.mu.Unlock()
			if index == IRQIndexINTx {
				return d.DisableIRQ(index)
			}
			// Detach this vector only: an fd of -1 frees its trigger.
			err := d.setIRQs("detach eventfd", irqSetDataEventfd|irqSetActionTrigger, index, q.Vector, 1, []int32{-1})
			if errors.Is(err, ErrClosed) {
				return nil
			}
			return err
		}
		if index == IRQIndexINTx {
			q.unmask = d.UnmaskINTx
			q.mask = d.MaskINTx
		}
	}
	d.mu.Unlock()
	return irqs, nil
}

// UnmaskINTx unmasks INTx after vfio-pci automasked it.
func (d *Device) UnmaskINTx() error {
	return d.setIRQs("unmask", irqSetDataNone|irqSetActionUnmask, IRQIndexINTx, 0, 1, nil)
}

// MaskINTx masks INTx.
func (d *Device) MaskINTx() error {
	return d.setIRQs("mask", irqSetDataNone|irqSetActionMask, IRQIndexINTx, 0, 1, nil)
}

// DisableIRQ detaches every eventfd of an IRQ index and disables it
// (for MSI/MSI-X the device leaves MSI mode).
func (d *Device) DisableIRQ(index int) error {
	err := d.setIRQs("disable", irqSetDataNone|irqSetActionTrigger, index, 0, 0, nil)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	if err == nil {
		d.mu.Lock()
		delete(d.active, index)
		d.mu.Unlock()
	}
	return err
}

// DisableInterrupts detaches the eventfds of every IRQ index with triggers
// set and disables it (an MSI/MSI-X device leaves MSI mode). The IRQs stay
// open (Wait blocks) until Close. Teardown calls it before it turns bus
// mastering off and resets the device.
func (d *Device) DisableInterrupts() error {
	d.mu.Lock()
	var active []int
	for idx := range d.active {
		active = append(active, idx)
	}
	d.mu.Unlock()
	var errs []error
	for _, idx := range active {
		errs = append(errs, d.DisableIRQ(idx))
	}
	return errors.Join(errs...)
}
