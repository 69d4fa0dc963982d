package vfio

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// fire signals the eventfd as the kernel does when the interrupt arrives.
func fire(t *testing.T, q *IRQ) {
	t.Helper()
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1)
	if _, err := unix.Write(q.Fd(), b[:]); err != nil {
		t.Fatal(err)
	}
}

func TestIRQWaitFires(t *testing.T) {
	q, err := newIRQ(IRQIndexMSIX, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.String() != "MSI-X vector 1" {
		t.Errorf("String = %q", q)
	}
	for i := 0; i < 3; i++ {
		done := make(chan uint64)
		go func() {
			n, err := q.Wait(context.Background())
			if err != nil {
				t.Error(err)
			}
			done <- n
		}()
		select {
		case <-done:
			t.Fatal("Wait returned before the interrupt")
		case <-time.After(20 * time.Millisecond):
		}
		fire(t, q)
		select {
		case n := <-done:
			if n != 1 {
				t.Errorf("round %d: count %d", i, n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Wait did not return after the interrupt")
		}
	}
	// Interrupts that fire while nobody waits are counted, not lost.
	fire(t, q)
	fire(t, q)
	if n, err := q.Wait(context.Background()); n != 2 || err != nil {
		t.Errorf("Wait after two interrupts = %d, %v", n, err)
	}
	// MSI-X has nothing to unmask and cannot be masked through VFIO.
	if err := q.Unmask(); err != nil {
		t.Errorf("Unmask: %v", err)
	}
	if err := q.Mask(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Mask = %v, want ErrUnsupported", err)
	}
}

func TestIRQCancelAndClose(t *testing.T) {
	q, err := newIRQ(IRQIndexINTx, 0)
	if err != nil {
		t.Fatal(err)
	}
	unmasks := 0
	q.unmask = func() error { unmasks++; return nil }
	detached := 0
	q.detach = func() error { detached++; return nil }

	// Cancellation returns the context's error promptly.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	start := time.Now()
	if _, err := q.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want DeadlineExceeded", err)
	}
	cancel()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	// An already-cancelled context does not block.
	if _, err := q.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait(done ctx) = %v", err)
	}
	// A stale kick from the cancelled context does not end the next Wait.
	fire(t, q)
	if n, err := q.Wait(context.Background()); n != 1 || err != nil {
		t.Errorf("Wait after cancel = %d, %v", n, err)
	}
	if err := q.Unmask(); err != nil || unmasks != 1 {
		t.Errorf("Unmask = %v, calls %d", err, unmasks)
	}

	// A second concurrent waiter is refused; Close wakes the first.
	errc := make(chan error)
	go func() { _, err := q.Wait(context.Background()); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	if _, err := q.Wait(context.Background()); !errors.Is(err, ErrBusy) {
		t.Errorf("concurrent Wait = %v, want ErrBusy", err)
	}
	start = time.Now()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Wait woken by Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Wait")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := q.Close(); err != nil || detached != 1 {
		t.Errorf("second Close = %v, detach calls %d", err, detached)
	}
	if _, err := q.Wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Wait after Close = %v", err)
	}
	if err := q.Unmask(); !errors.Is(err, ErrClosed) {
		t.Errorf("Unmask after Close = %v", err)
	}
}

// A top half blocked in read(2) on Fd wakes when the IRQ closes.
func TestIRQCloseWakesRawReader(t *testing.T) {
	q, err := newIRQ(IRQIndexINTx, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() {
		var b [8]byte
		unix.Read(q.Fd(), b[:])
		done <- q.Closed()
	}()
	time.Sleep(20 * time.Millisecond)
	q.Close()
	select {
	case closed := <-done:
		if !closed {
			t.Error("reader woke but Closed() is false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("raw reader not woken by Close")
	}
}
