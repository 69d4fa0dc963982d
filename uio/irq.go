package uio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/internal/fdwait"
	"github.com/uiodrv/uiodrv/pci"
)

// IRQ is the device's INTx interrupt read from /dev/uioN. It owns the
// /dev/uioN fd.
//
// uio_pci_generic masks INTx in the PCI command register each time it
// fires; Unmask clears the mask after the device has been acknowledged.
// One goroutine at a time calls Wait.
type IRQ struct {
	path string
	fd   int // /dev/uioN, blocking, owned
	cfg  *pci.Config
	w    *fdwait.Waiter

	mu   sync.Mutex // guards last
	last uint32     // cumulative count at the previous Wait
}

func newIRQ(path string, start uint32, cfg *pci.Config) (*IRQ, error) {
	fd, err := open(path, unix.O_RDWR)
	if err != nil {
		return nil, fmt.Errorf("uio: open %s: %w", path, err)
	}
	w, err := fdwait.New(fd, ErrClosed, ErrBusy)
	if err != nil {
		closeFD(fd)
		return nil, fmt.Errorf("uio: %w", err)
	}
	return &IRQ{path: path, fd: fd, cfg: cfg, w: w, last: start}, nil
}

// String names the interrupt source, e.g. "/dev/uio0".
func (q *IRQ) String() string { return q.path }

// Fd returns the /dev/uioN fd (blocking): read(2) of 4 bytes returns the
// cumulative interrupt count. It stays owned by the IRQ and is valid until
// Close. A top half blocking on it should poll it together with its own
// wake-up fd: Close cannot wake a read(2) on /dev/uioN.
func (q *IRQ) Fd() int { return q.fd }

// Closed reports whether Close has been called.
func (q *IRQ) Closed() bool { return q.w.Closed() }

// Wait blocks until the interrupt fires and returns how many times it fired
// since the previous Wait (or since Open). It returns ctx.Err() when ctx is
// cancelled, ErrClosed when the IRQ is or gets closed, and ErrBusy when
// another goroutine is waiting.
func (q *IRQ) Wait(ctx context.Context) (uint64, error) {
	n, err := q.w.Wait(ctx, q.readCount)
	if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
		return 0, fmt.Errorf("uio: wait for %s: %w", q.path, err)
	}
	return n, err
}

// readCount reads the 4-byte cumulative count and returns the growth since
// the previous read.
func (q *IRQ) readCount() (uint64, error) {
	var b [4]byte
	if _, err := read(q.fd, b[:]); err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	count := binary.NativeEndian.Uint32(b[:])
	q.mu.Lock()
	n := count - q.last // modular: the count wraps at 2^32
	q.last = count
	q.mu.Unlock()
	return uint64(n), nil
}

// Unmask clears Interrupt Disable in the PCI command register, which
// uio_pci_generic sets on every interrupt. Acknowledge the device first
// (e.g. read the e1000's ICR) or the interrupt fires again at once.
func (q *IRQ) Unmask() error {
	if q.Closed() {
		return ErrClosed
	}
	if err := q.cfg.SetINTxDisabled(false); err != nil {
		return fmt.Errorf("uio: unmask %s: %w", q.path, err)
	}
	return nil
}

// Mask sets Interrupt Disable in the PCI command register.
func (q *IRQ) Mask() error {
	if q.Closed() {
		return ErrClosed
	}
	if err := q.cfg.SetINTxDisabled(true); err != nil {
		return fmt.Errorf("uio: mask %s: %w", q.path, err)
	}
	return nil
}

// Close wakes a waiting Wait (which returns ErrClosed) and closes the fd
// once no Wait is running. It is idempotent.
func (q *IRQ) Close() error {
	if !q.w.Close(nil) {
		return nil
	}
	if err := closeFD(q.fd); err != nil {
		return fmt.Errorf("uio: close %s: %w", q.path, err)
	}
	return nil
}
