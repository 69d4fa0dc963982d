package igb_test

import (
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/igb/igbtest"
)

// fakeNIC is an 82576 on the fake register file, with its pool and MSI-X
// vectors as eventfds; the cleanup checks the fake's invariants and that
// every DMA region was released.
type fakeNIC struct {
	nic   *igb.NIC
	dev   *igbtest.Device
	pool  *driver.BufPool
	alloc *drivertest.MemAllocator
}

func newFakeNIC(t *testing.T, o igb.Options) *fakeNIC {
	t.Helper()
	queues := max(o.Queues, 1)
	f := &fakeNIC{alloc: drivertest.NewMemAllocator()}
	var err error
	if f.dev, err = igbtest.New(f.alloc, queues+1); err != nil {
		t.Fatal(err)
	}
	if f.pool, err = driver.NewBufPool(f.alloc, queues*64+256); err != nil {
		t.Fatal(err)
	}
	if o.RxRingSize == 0 {
		o.RxRingSize, o.TxRingSize = 64, 64
	}
	if o.Vectors == nil {
		o.Vectors = f.dev.Vectors()
	}
	o.LinkWait = time.Second
	if f.nic, err = igb.New(f.dev, f.alloc, f.pool, igb.Model82576, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.nic.Close()
		if n := f.pool.Available(); n != f.pool.Len() {
			t.Errorf("after Close the pool holds %d of %d buffers", n, f.pool.Len())
		}
		f.pool.Close()
		f.dev.Close()
		for _, v := range f.dev.Violations() {
			t.Errorf("fake NIC: %s", v)
		}
		if n := f.alloc.Open(); n != 0 {
			t.Errorf("%d DMA regions not released", n)
		}
	})
	return f
}

// The 82576 passes the conformance kit on the fake register file with one
// queue and with two (RSS on), MSI-X vectors as eventfds included.
func TestConformanceFake(t *testing.T) {
	for _, queues := range []int{1, 2} {
		t.Run(map[int]string{1: "1queue", 2: "2queues"}[queues], func(t *testing.T) {
			drivertest.Run(t, func(t *testing.T) *drivertest.Harness {
				f := newFakeNIC(t, igb.Options{Queues: queues})
				f.dev.SetLogging(false)
				return &drivertest.Harness{NIC: f.nic, Buffers: f.pool, Wire: drivertest.ModelWire{Receive: f.dev.Receive, Transmit: f.dev.Transmit}, LiveIRQ: true}
			})
		})
	}
}
