package virtio_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/virtio"
	"github.com/uiodrv/uiodrv/driver/virtio/virtiotest"
)

// fakeNIC is a virtio-net device on the fake register file, with its pool
// and MSI-X vectors as eventfds; the cleanup checks that Close reset the
// device, the fake's invariants, and that every DMA region was released.
type fakeNIC struct {
	nic   *virtio.NIC
	dev   *virtiotest.Device
	pool  *driver.BufPool
	alloc *drivertest.MemAllocator
}

func newFake(t *testing.T, fo virtiotest.Options, o virtio.Options) (*fakeNIC, error) {
	t.Helper()
	queues := max(o.Queues, 1)
	f := &fakeNIC{alloc: drivertest.NewMemAllocator()}
	if fo.Vectors == 0 {
		fo.Vectors = queues + 1
	}
	if fo.Pairs == 0 {
		fo.Pairs = queues
	}
	var err error
	if f.dev, err = virtiotest.New(f.alloc, fo); err != nil {
		t.Fatal(err)
	}
	if f.pool, err = driver.NewBufPool(f.alloc, queues*64+256); err != nil {
		t.Fatal(err)
	}
	if o.RingSize == 0 {
		o.RingSize = 128
	}
	if o.Vectors == nil {
		o.Vectors = f.dev.Vectors()
	}
	o.RequireAccessPlatform = true
	t.Cleanup(func() {
		if f.nic != nil {
			f.nic.Close()
			if s := f.dev.Status(); s != 0 {
				t.Errorf("after Close device_status reads %#x, want 0 (reset)", s)
			}
		}
		if n := f.pool.Available(); n != f.pool.Len() {
			t.Errorf("after Close the pool holds %d of %d buffers", n, f.pool.Len())
		}
		f.pool.Close()
		f.dev.Close()
		for _, v := range f.dev.Violations() {
			t.Errorf("fake device: %s", v)
		}
		if n := f.alloc.Open(); n != 0 {
			t.Errorf("%d DMA regions not released", n)
		}
	})
	f.nic, err = virtio.New(f.dev.Transport(), f.alloc, f.pool, o)
	return f, err
}

func mustFake(t *testing.T, fo virtiotest.Options, o virtio.Options) *fakeNIC {
	t.Helper()
	f, err := newFake(t, fo, o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// virtio-net passes the conformance kit on the fake device with one queue
// pair and with two (MQ through the control queue), MSI-X vectors as
// eventfds included.
func TestConformanceFake(t *testing.T) {
	for _, queues := range []int{1, 2} {
		t.Run(map[int]string{1: "1queue", 2: "2queues"}[queues], func(t *testing.T) {
			drivertest.Run(t, func(t *testing.T) *drivertest.Harness {
				f := mustFake(t, virtiotest.Options{}, virtio.Options{Queues: queues})
				f.dev.SetLogging(false)
				return &drivertest.Harness{NIC: f.nic, Buffers: f.pool, Wire: drivertest.ModelWire{Receive: f.dev.Receive, Transmit: f.dev.Transmit}, LiveIRQ: true}
			})
		})
	}
}
