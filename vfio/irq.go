package vfio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/internal/fdwait"
)

// IRQ is one interrupt vector delivered through an eventfd. It owns the
// eventfd.
//
// One goroutine at a time calls Wait, which blocks its thread in poll(2)
// until the interrupt fires, its context is cancelled or the IRQ is closed.
// A top half that prefers to block in read(2) or epoll itself uses Fd.
type IRQ struct {
	Index  int // IRQIndexINTx, IRQIndexMSI or IRQIndexMSIX
	Vector int // vector within the index

	efd int // the interrupt eventfd (blocking), owned
	w   *fdwait.Waiter

	mu     sync.Mutex   // guards the funcs
	unmask func() error // nil: nothing to unmask (MSI, MSI-X)
	mask   func() error
	detach func() error // detaches the eventfd from the device
}

func newIRQ(index, vector int) (*IRQ, error) {
	efd, err := eventfd(0)
	if err != nil {
		return nil, fmt.Errorf("create eventfd: %w", err)
	}
	w, err := fdwait.New(efd, ErrClosed, ErrBusy)
	if err != nil {
		closeFD(efd)
		return nil, err
	}
	return &IRQ{Index: index, Vector: vector, efd: efd, w: w}, nil
}

// String names the vector, e.g. "MSI-X vector 2".
func (q *IRQ) String() string { return fmt.Sprintf("%s vector %d", irqNames[q.Index], q.Vector) }

// Fd returns the interrupt eventfd (blocking mode): read(2) on it returns
// the 8-byte count of interrupts since the last read. The fd stays owned by
// the IRQ and is valid until Close; Close writes 1 to it first so that a
// thread blocked in read(2) wakes up, and such a thread must then check Closed.
func (q *IRQ) Fd() int { return q.efd }

// Closed reports whether Close has been called.
func (q *IRQ) Closed() bool { return q.w.Closed() }

// Wait blocks until the interrupt fires and returns how many times it fired
// since the previous Wait (at least 1). It returns ctx.Err() when ctx is
// cancelled, ErrClosed when the IRQ is or gets closed, and ErrBusy when
// another goroutine is waiting.
func (q *IRQ) Wait(ctx context.Context) (uint64, error) {
	n, err := q.w.Wait(ctx, q.readCount)
	if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
		return 0, fmt.Errorf("vfio: wait for %s: %w", q, err)
	}
	return n, err
}

// readCount reads (and so resets) the eventfd's 8-byte counter.
func (q *IRQ) readCount() (uint64, error) {
	var buf [8]byte
	if _, err := read(q.efd, buf[:]); err != nil {
		return 0, fmt.Errorf("read eventfd: %w", err)
	}
	return binary.NativeEndian.Uint64(buf[:]), nil
}

// Unmask re-enables an automasked interrupt (INTx); for MSI and MSI-X it
// does nothing.
func (q *IRQ) Unmask() error {
	q.mu.Lock()
	f, closed := q.unmask, q.Closed()
	q.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if f == nil {
		return nil
	}
	return f()
}

// Mask masks the interrupt (INTx only; mask MSI-X causes in the device).
func (q *IRQ) Mask() error {
	q.mu.Lock()
	f, closed := q.mask, q.Closed()
	q.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if f == nil {
		return fmt.Errorf("%w: masking %s through VFIO (mask the cause in the device)", ErrUnsupported, q)
	}
	return f()
}

// Close detaches the eventfd from the device, wakes a waiting Wait (which
// returns ErrClosed) and a thread blocked in read(2) on Fd, and closes the
// eventfds once no Wait is running. It is idempotent.
func (q *IRQ) Close() error { return q.close(true) }

func (q *IRQ) close(detach bool) error {
	var err error
	closed := q.w.Close(func() {
		q.mu.Lock()
		d := q.detach
		q.unmask, q.mask, q.detach = nil, nil, nil
		q.mu.Unlock()
		if detach && d != nil {
			err = d()
		}
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		write(q.efd, one[:]) // wakes a raw reader of Fd
	})
	if closed {
		closeFD(q.efd)
	}
	return err
}
