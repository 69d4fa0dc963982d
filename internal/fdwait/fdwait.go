// Package fdwait is the interruptible wait on an interrupt fd that both
// backends use: vfio's eventfds and uio's /dev/uioN. One goroutine at a time
// blocks in poll(2) on the fd and on a private wake-up eventfd, which context
// cancellation and Close write to, so a wait can always be ended.
package fdwait

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Waiter waits on an fd it does not own. It owns its wake-up eventfd.
type Waiter struct {
	fd        int
	wake      int // non-blocking eventfd written by cancellation and Close
	errClosed error
	errBusy   error

	mu      sync.Mutex // guards closed and waiting
	closed  bool
	waiting bool
	waiters sync.WaitGroup // Waits in flight; Close returns after they leave
}

// New returns a Waiter for fd. Wait reports errClosed after Close and
// errBusy when another goroutine is waiting (the caller's sentinels).
func New(fd int, errClosed, errBusy error) (*Waiter, error) {
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create eventfd: %w", err)
	}
	return &Waiter{fd: fd, wake: wake, errClosed: errClosed, errBusy: errBusy}, nil
}

// Closed reports whether Close has been called.
func (w *Waiter) Closed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// Wait blocks until fd is readable, then calls read on this goroutine (it
// cannot block: only the waiter reads fd) and returns its result. It returns
// ctx.Err() when ctx is cancelled, errClosed when the Waiter is or gets
// closed, errBusy when another goroutine is waiting.
func (w *Waiter) Wait(ctx context.Context, read func() (uint64, error)) (uint64, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return 0, w.errClosed
	}
	if w.waiting {
		w.mu.Unlock()
		return 0, w.errBusy
	}
	w.waiting = true
	w.waiters.Add(1)
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.waiting = false
		w.mu.Unlock()
		w.waiters.Done()
	}()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, w.kick)
	defer stop()

	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}, {Fd: int32(w.wake), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return 0, fmt.Errorf("poll: %w", err)
		}
		if w.Closed() {
			return 0, w.errClosed
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			return read()
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			return 0, fmt.Errorf("poll events %#x (device removed?)", fds[0].Revents)
		}
		if fds[1].Revents != 0 {
			var b [8]byte
			unix.Read(w.wake, b[:]) // drain; a stale kick from an earlier context only loops
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
	}
}

// kick wakes a Wait blocked in poll. EAGAIN only when the counter is
// saturated: already kicked.
func (w *Waiter) kick() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(w.wake, one[:])
}

// Close marks the Waiter closed, runs then (if not nil; e.g. detach the fd
// from the device), wakes a waiting Wait, waits for it to return and closes
// the wake-up eventfd. The caller closes fd afterwards. It reports false,
// doing nothing, when already closed.
func (w *Waiter) Close(then func()) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.closed = true
	w.mu.Unlock()
	if then != nil {
		then()
	}
	w.kick()
	w.waiters.Wait()
	unix.Close(w.wake)
	return true
}
