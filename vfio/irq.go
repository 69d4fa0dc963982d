package vfio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
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

	efd  int // the interrupt eventfd (blocking), owned
	wake int // eventfd that Close and cancellation write to (non-blocking), owned

	mu      sync.Mutex // guards closed, waiting and the funcs
	closed  bool
	waiting bool
	waiters sync.WaitGroup // Waits in flight; Close closes the fds after they leave

	unmask func() error // nil: nothing to unmask (MSI, MSI-X)
	mask   func() error
	detach func() error // detaches the eventfd from the device
}

func newIRQ(index, vector int) (*IRQ, error) {
	efd, err := eventfd(0)
	if err != nil {
		return nil, fmt.Errorf("create eventfd: %w", err)
	}
	wake, err := eventfd(unix.EFD_NONBLOCK)
	if err != nil {
		closeFD(efd)
		return nil, fmt.Errorf("create eventfd: %w", err)
	}
	return &IRQ{Index: index, Vector: vector, efd: efd, wake: wake}, nil
}

// String names the vector, e.g. "MSI-X vector 2".
func (q *IRQ) String() string { return fmt.Sprintf("%s vector %d", irqNames[q.Index], q.Vector) }

// Fd returns the interrupt eventfd (blocking mode): read(2) on it returns
// the 8-byte count of interrupts since the last read. The fd stays owned by
// the IRQ and is valid until Close; Close writes 1 to it first so that a
// thread blocked in read(2) wakes up, and such a thread must then check Closed.
func (q *IRQ) Fd() int { return q.efd }

// Closed reports whether Close has been called.
func (q *IRQ) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// Wait blocks until the interrupt fires and returns how many times it fired
// since the previous Wait (at least 1). It returns ctx.Err() when ctx is
// cancelled, ErrClosed when the IRQ is or gets closed, and ErrBusy when
// another goroutine is waiting.
func (q *IRQ) Wait(ctx context.Context) (uint64, error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return 0, ErrClosed
	}
	if q.waiting {
		q.mu.Unlock()
		return 0, ErrBusy
	}
	q.waiting = true
	q.waiters.Add(1)
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.waiting = false
		q.mu.Unlock()
		q.waiters.Done()
	}()

	if err := ctx.Err(); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, q.kick)
	defer stop()

	var buf [8]byte
	fds := []unix.PollFd{{Fd: int32(q.efd), Events: unix.POLLIN}, {Fd: int32(q.wake), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return 0, fmt.Errorf("vfio: wait for %s: poll: %w", q, err)
		}
		if q.Closed() {
			return 0, ErrClosed
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			// Only this goroutine reads efd, so after POLLIN the read cannot block.
			if _, err := read(q.efd, buf[:]); err != nil {
				return 0, fmt.Errorf("vfio: wait for %s: read eventfd: %w", q, err)
			}
			return binary.NativeEndian.Uint64(buf[:]), nil
		}
		if fds[1].Revents != 0 {
			read(q.wake, buf[:]) // drain; a stale kick from an earlier context only loops
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
	}
}

// kick wakes a Wait blocked in poll.
func (q *IRQ) kick() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	write(q.wake, one[:]) // EAGAIN only when the counter is saturated: already kicked
}

// Unmask re-enables an automasked interrupt (INTx); for MSI and MSI-X it
// does nothing.
func (q *IRQ) Unmask() error {
	q.mu.Lock()
	f, closed := q.unmask, q.closed
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
	f, closed := q.mask, q.closed
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
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	d := q.detach
	q.unmask, q.mask, q.detach = nil, nil, nil
	q.mu.Unlock()

	var err error
	if detach && d != nil {
		err = d()
	}
	q.kick()
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	write(q.efd, one[:]) // wakes a raw reader of Fd
	q.waiters.Wait()
	closeFD(q.efd)
	closeFD(q.wake)
	return err
}
