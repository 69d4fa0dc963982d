package igb_test

import (
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/igb/igbtest"
	"github.com/uiodrv/uiodrv/mmio"
)

// The MMIO diet: register accesses counted with mmio.Counting
// around the fake, operation by operation.

type countedNIC struct {
	nic  *igb.NIC
	regs *mmio.Counting
	dev  *igbtest.Device
	pool *driver.BufPool
}

func newCountedNIC(t *testing.T, o igb.Options, bufs int) *countedNIC {
	t.Helper()
	alloc := drivertest.NewMemAllocator()
	dev, err := igbtest.New(alloc, max(o.Queues, 1)+1)
	if err != nil {
		t.Fatal(err)
	}
	dev.SetLogging(false)
	pool, err := driver.NewBufPool(alloc, bufs)
	if err != nil {
		t.Fatal(err)
	}
	o.Vectors, o.LinkWait = dev.Vectors(), time.Second
	c := &countedNIC{regs: mmio.NewCounting(dev), dev: dev, pool: pool}
	if c.nic, err = igb.New(c.regs, alloc, pool, igb.Model82576, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.nic.Close()
		pool.Close()
		dev.Close()
		for _, v := range dev.Violations() {
			t.Errorf("fake NIC: %s", v)
		}
	})
	return c
}

func (c *countedNIC) count(fn func()) mmio.Accesses {
	a := c.regs.Snapshot()
	fn()
	return c.regs.Snapshot().Sub(a)
}

// TestRefillWritesRDTPerThreshold: frames harvested and refilled one at a
// time cost one RDT write per RxFreeThresh; a ring the NIC sees nearly
// empty is told at once.
func TestRefillWritesRDTPerThreshold(t *testing.T) {
	c := newCountedNIC(t, igb.Options{RxRingSize: 256, TxRingSize: 64}, 512)
	f := make([]byte, 60)
	out := make([]driver.RxDesc, 4)
	var got mmio.Accesses
	for i := 0; i < 4*driver.RxFreeThresh; i++ {
		if !c.dev.Receive(f) {
			t.Fatalf("frame %d found no descriptor", i)
		}
		got = got.Add(c.count(func() {
			if k := c.nic.RxBurst(0, out); k != 1 {
				t.Fatalf("frame %d: RxBurst = %d", i, k)
			}
			c.pool.PutMany([]uint32{out[0].Buf})
			c.nic.Refill(0)
		}))
	}
	if want := (mmio.Accesses{Writes: 4}); got != want {
		t.Fatalf("128 frames one at a time: %+v accesses, want %+v", got, want)
	}

	// Nearly out: a pool of one spare buffer over a 64-descriptor ring
	// (threshold 16).
	c = newCountedNIC(t, igb.Options{RxRingSize: 64, TxRingSize: 64}, 64)
	out = make([]driver.RxDesc, 64)
	var held []uint32
	recv := func(k int) {
		for i := 0; i < k; i++ {
			if !c.dev.Receive(f) {
				t.Fatalf("frame %d found no descriptor", i)
			}
		}
		for _, d := range out[:c.nic.RxBurst(0, out[:k])] {
			held = append(held, d.Buf)
		}
	}
	recv(10)
	if a := c.count(func() { c.nic.Refill(0) }); a.Total() != 0 {
		t.Fatalf("refill of 1 with 53 descriptors left: %+v accesses, want none", a)
	}
	recv(40)
	if a := c.count(func() { c.pool.PutMany(held[:1]); c.nic.Refill(0) }); a != (mmio.Accesses{Writes: 1}) {
		t.Fatalf("refill of 1 with 13 descriptors left: %+v accesses, want one RDT write", a)
	}
	if c.nic.RxWaiting(0) != 0 {
		t.Fatalf("%d buffers wait after the write", c.nic.RxWaiting(0))
	}
	c.pool.PutMany(held[1:])
}

// TestTxRSAndBatch: RS on every 32nd descriptor and the last before the
// doorbell; with SetTxBatch(32) one TDT write per 32 frames queued one at a
// time and one from FlushTx; Reclaim reads no register and returns every
// buffer.
func TestTxRSAndBatch(t *testing.T) {
	c := newCountedNIC(t, igb.Options{RxRingSize: 64, TxRingSize: 256}, 512)
	c.nic.SetTxBatch(32)
	base := c.pool.Available()
	var pkts []driver.TxDesc
	for i := 0; i < 40; i++ {
		b, _ := c.pool.Get()
		pkts = append(pkts, driver.TxDesc{Buf: b, Len: 60})
	}
	a := c.count(func() {
		for i := range pkts {
			if c.nic.TxBurst(0, pkts[i:i+1]) != 1 {
				t.Fatal("TxBurst refused a frame")
			}
		}
	})
	if a != (mmio.Accesses{Writes: 1}) || c.nic.TxWaiting(0) != 8 {
		t.Fatalf("40 frames one at a time: %+v accesses, %d waiting; want one write, 8 waiting", a, c.nic.TxWaiting(0))
	}
	if a := c.count(func() { c.nic.FlushTx(0); c.nic.FlushTx(0) }); a != (mmio.Accesses{Writes: 1}) {
		t.Fatalf("FlushTx twice: %+v accesses, want one write", a)
	}
	if sent := len(c.dev.Transmit()); sent != 40 {
		t.Fatalf("the NIC sent %d frames, want 40", sent)
	}
	var got int
	if a := c.count(func() { got = c.nic.Reclaim(0) }); a.Total() != 0 || got != 40 || c.pool.Available() != base {
		t.Fatalf("Reclaim: %d buffers with %+v accesses (pool %d of %d); want 40, none", got, a, c.pool.Available(), base)
	}
	// Without batching a lone frame rings at once and still comes back.
	c.nic.SetTxBatch(0)
	b, _ := c.pool.Get()
	if a := c.count(func() { c.nic.TxBurst(0, []driver.TxDesc{{Buf: b, Len: 60}}) }); a != (mmio.Accesses{Writes: 1}) {
		t.Fatalf("TxBurst of one: %+v accesses", a)
	}
	c.dev.Transmit()
	if c.nic.Reclaim(0) != 1 {
		t.Fatal("the lone frame's buffer did not come back: no RS on the last before the doorbell")
	}
}

// TestSetIRQWritesOnlyChanges: a NAPI cycle costs one EIMC and one EIMS;
// enabling or masking TX alone, or what is already so, writes nothing; and
// a transmitted frame fires no vector.
func TestSetIRQWritesOnlyChanges(t *testing.T) {
	c := newCountedNIC(t, igb.Options{RxRingSize: 64, TxRingSize: 64}, 256)
	if a := c.count(func() {
		c.nic.SetIRQ(0, driver.CauseRX|driver.CauseTX, true) // already on
		c.nic.SetIRQ(0, driver.CauseTX, false)
		c.nic.SetIRQ(0, driver.CauseTX, true)
	}); a.Total() != 0 {
		t.Fatalf("SetIRQ that changes no vector's state: %+v accesses", a)
	}
	if a := c.count(func() {
		c.nic.AckIRQ(0)
		c.nic.SetIRQ(0, driver.CauseRX, false)
		c.nic.SetIRQ(0, driver.CauseRX, false)
		c.nic.SetIRQ(0, driver.CauseRX, true)
	}); a != (mmio.Accesses{Writes: 2}) {
		t.Fatalf("NAPI cycle: %+v accesses, want 2 writes (EIMC, EIMS)", a)
	}
	fd := c.nic.Info().Vectors[0].Fd
	fired(fd)
	b, _ := c.pool.Get()
	c.nic.TxBurst(0, []driver.TxDesc{{Buf: b, Len: 60}})
	c.dev.Transmit()
	if fired(fd) {
		t.Fatal("a transmitted frame fired the queue's vector")
	}
	c.nic.Reclaim(0)
}
