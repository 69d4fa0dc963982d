package uio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

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
	wake int // eventfd written by Close and cancellation, non-blocking, owned
	cfg  *pci.Config

	mu      sync.Mutex // guards closed, waiting, last
	closed  bool
	waiting bool
	last    uint32         // cumulative count at the previous Wait
	waiters sync.WaitGroup // Waits in flight; Close closes the fds after they leave
}

func newIRQ(path string, start uint32, cfg *pci.Config) (*IRQ, error) {
	fd, err := open(path, unix.O_RDWR)
	if err != nil {
		return nil, fmt.Errorf("uio: open %s: %w", path, err)
	}
	wake, err := eventfd(unix.EFD_NONBLOCK)
	if err != nil {
		closeFD(fd)
		return nil, fmt.Errorf("uio: create eventfd: %w", err)
	}
	return &IRQ{path: path, fd: fd, wake: wake, cfg: cfg, last: start}, nil
}

// String names the interrupt source, e.g. "/dev/uio0".
func (q *IRQ) String() string { return q.path }

// Fd returns the /dev/uioN fd (blocking): read(2) of 4 bytes returns the
// cumulative interrupt count. It stays owned by the IRQ and is valid until
// Close. A top half blocking on it should poll it together with its own
// wake-up fd: Close cannot wake a read(2) on /dev/uioN.
func (q *IRQ) Fd() int { return q.fd }

// Closed reports whether Close has been called.
func (q *IRQ) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// Wait blocks until the interrupt fires and returns how many times it fired
// since the previous Wait (or since Open). It returns ctx.Err() when ctx is
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

	fds := []unix.PollFd{{Fd: int32(q.fd), Events: unix.POLLIN}, {Fd: int32(q.wake), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return 0, fmt.Errorf("uio: wait for %s: poll: %w", q.path, err)
		}
		if q.Closed() {
			return 0, ErrClosed
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			var b [4]byte
			// Only this goroutine reads the fd, so after POLLIN the read cannot block.
			if _, err := read(q.fd, b[:]); err != nil {
				return 0, fmt.Errorf("uio: wait for %s: read: %w", q.path, err)
			}
			count := binary.NativeEndian.Uint32(b[:])
			q.mu.Lock()
			n := count - q.last // modular: the count wraps at 2^32
			q.last = count
			q.mu.Unlock()
			return uint64(n), nil
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			return 0, fmt.Errorf("uio: wait for %s: poll events %#x (device removed?)", q.path, fds[0].Revents)
		}
		if fds[1].Revents != 0 {
			var b [8]byte
			read(q.wake, b[:]) // drain; a stale kick from an earlier context only loops
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
	}
}

func (q *IRQ) kick() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	write(q.wake, one[:])
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

// Close wakes a waiting Wait (which returns ErrClosed) and closes the fds
// once no Wait is running. It is idempotent.
func (q *IRQ) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.mu.Unlock()
	q.kick()
	q.waiters.Wait()
	err := closeFD(q.fd)
	closeFD(q.wake)
	if err != nil {
		return fmt.Errorf("uio: close %s: %w", q.path, err)
	}
	return nil
}
