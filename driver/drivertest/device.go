package drivertest

import (
	"errors"
	"sync"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// FakeDevice is a Fake with its own buffer pool, as a family's Open returns
// a device (driver.Device): what examples and front-door tests run a port
// on without hardware.
type FakeDevice struct {
	*Fake
	Pool *driver.BufPool

	mu         sync.Mutex // guards poolClosed
	poolClosed bool
}

var _ driver.Device = (*FakeDevice)(nil)

// NewFakeDevice makes a Fake over a pool of bufs buffers in anonymous
// memory. Give the pool more buffers than the rings hold (o.RingSize per
// queue, 64 by default), or a Forward verdict into it finds none free.
func NewFakeDevice(o FakeOptions, bufs int) (*FakeDevice, error) {
	pool, err := driver.NewBufPool(NewMemAllocator(), bufs)
	if err != nil {
		return nil, err
	}
	f, err := NewFake(pool, o)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &FakeDevice{Fake: f, Pool: pool}, nil
}

// Queues returns the fake NIC and its pool.
func (d *FakeDevice) Queues() (driver.NIC, driver.Buffers) { return d.Fake, d.Pool }

// Close stops the fake, then frees the pool (nothing writes it any more).
// Idempotent.
func (d *FakeDevice) Close() error {
	err := d.Fake.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.poolClosed {
		d.poolClosed = true
		err = errors.Join(err, d.Pool.Close())
	}
	return err
}

// Await polls the fake's wire until at least want frames have left the NIC
// or timeout has passed, and returns them in the order they left (the
// fake's own Collect does not wait).
func (d *FakeDevice) Await(want int, timeout time.Duration) [][]byte {
	w := d.Wire()
	got := w.Collect(0, 0)
	for deadline := time.Now().Add(timeout); len(got) < want && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
		got = append(got, w.Collect(0, 0)...)
	}
	return got
}
