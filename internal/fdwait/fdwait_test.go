package fdwait

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

var errClosed, errBusy = errors.New("closed"), errors.New("busy")

func newEventWaiter(t *testing.T) (int, *Waiter) {
	t.Helper()
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	w, err := New(fd, errClosed, errBusy)
	if err != nil {
		t.Fatal(err)
	}
	return fd, w
}

func readCounter(fd int) func() (uint64, error) {
	return func() (uint64, error) {
		var b [8]byte
		if _, err := unix.Read(fd, b[:]); err != nil {
			return 0, err
		}
		return binary.NativeEndian.Uint64(b[:]), nil
	}
}

func TestWaitFiresCancelsCloses(t *testing.T) {
	fd, w := newEventWaiter(t)
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 3)
	unix.Write(fd, b[:])
	if n, err := w.Wait(context.Background(), readCounter(fd)); n != 3 || err != nil {
		t.Fatalf("Wait = %d, %v; want 3", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := w.Wait(ctx, readCounter(fd)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait after deadline = %v", err)
	}
	// A second waiter is refused; Close ends the first.
	done := make(chan error, 1)
	go func() { _, err := w.Wait(context.Background(), readCounter(fd)); done <- err }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		w.mu.Lock()
		waiting := w.waiting
		w.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("waiter never started")
		}
	}
	if _, err := w.Wait(context.Background(), readCounter(fd)); !errors.Is(err, errBusy) {
		t.Fatalf("second Wait = %v, want errBusy", err)
	}
	ran := false
	if !w.Close(func() { ran = true }) || !ran {
		t.Fatal("Close did not run its function")
	}
	if err := <-done; !errors.Is(err, errClosed) {
		t.Fatalf("Wait during Close = %v, want errClosed", err)
	}
	if w.Close(nil) {
		t.Fatal("second Close reported work")
	}
	if _, err := w.Wait(context.Background(), readCounter(fd)); !errors.Is(err, errClosed) {
		t.Fatalf("Wait after Close = %v", err)
	}
}
