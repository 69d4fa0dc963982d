package driver_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/handler"
	"github.com/uiodrv/uiodrv/qemu"
)

// fakeOpened is a drivertest.Fake and its pool as a Port takes them.
type fakeOpened struct {
	f    *drivertest.Fake
	pool *driver.BufPool
}

func (o fakeOpened) Queues() (driver.NIC, driver.Buffers) { return o.f, o.pool }

func openFake(t *testing.T, queues, bufs int) fakeOpened {
	t.Helper()
	alloc := drivertest.NewMemAllocator()
	pool, err := driver.NewBufPool(alloc, bufs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := drivertest.NewFake(pool, drivertest.FakeOptions{Queues: queues, IRQ: true, RingSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if err := pool.Close(); err != nil {
			t.Errorf("pool close: %v", err)
		}
	})
	return fakeOpened{f, pool}
}

// TestPortQueuesEveryMode runs a two-queue fake NIC with RSS through a Port
// in every mode and both top halves, each queue's halves on its own CPU:
// 2,000 frames over 64 flows are reflected intact, once each, in flow
// order; both queues carry traffic; every buffer comes back.
func TestPortQueuesEveryMode(t *testing.T) {
	cpus := []int{0, 1}
	if n := numCPU(); n < 2 {
		cpus[1] = 0
	}
	for _, mode := range deferral.Modes() {
		for _, th := range []driver.TopHalf{driver.TopHalfCopy, driver.TopHalfLight} {
			if mode == deferral.ModeBusyPoll && th == driver.TopHalfLight {
				continue
			}
			t.Run(mode.String()+"/"+th.String(), func(t *testing.T) { testPortQueues(t, mode, th, cpus) })
		}
	}
}

func numCPU() int {
	var s unix.CPUSet
	if err := unix.SchedGetaffinity(0, &s); err != nil {
		return 1
	}
	return s.Count()
}

func testPortQueues(t *testing.T, mode deferral.Mode, th driver.TopHalf, cpus []int) {
	const nflows, nframes, nbufs, maxInFlight = 64, 2000, 1024, 96
	dev := openFake(t, 2, nbufs)
	count := handler.NewCount()
	p, err := driver.NewPort(dev, driver.Config{Mode: mode, Handler: handler.Chain{count, handler.Reflect{}}, IRQCPUs: cpus, TopHalf: th, Budget: 32, ThreadPrio: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	flows, err := qemu.NewFlows(nflows, 128, [6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2})
	if err != nil {
		t.Fatal(err)
	}
	wire := dev.f.Wire()
	// The far end collects what the NIC transmits all along, as a cable
	// would: the fake transmits only when collected.
	frames := make(chan [][]byte, nframes)
	stop := make(chan struct{})
	var collected atomic.Int64
	go func() {
		defer close(frames)
		for {
			select {
			case <-stop:
				frames <- wire.Collect(0, 0)
				return
			default:
			}
			if fs := wire.Collect(0, 0); len(fs) > 0 {
				collected.Add(int64(len(fs)))
				frames <- fs
			} else {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	var buf [2048]byte
	for i := 0; i < nframes; i++ {
		fl := i % nflows
		frame, seq := flows.Next(buf[:], fl)
		// At most maxInFlight frames on their way: the TX rings (127
		// each) never overflow, as with a paced peer.
		for deadline := time.Now().Add(10 * time.Second); int64(i)-collected.Load() > maxInFlight; {
			if time.Now().After(deadline) {
				st := p.Stats()
				t.Fatalf("frame %d: %d frames sent are not back after 10 s; stats %v", i, int64(i)-collected.Load(), &st)
			}
			time.Sleep(20 * time.Microsecond)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			err := wire.Send(frame)
			if err == nil {
				break
			}
			if !errors.Is(err, drivertest.ErrNoBuffer) || time.Now().After(deadline) {
				st := p.Stats()
				t.Fatalf("frame %d (flow %d seq %d): %v; stats %v", i, fl, seq, err, &st)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	for deadline := time.Now().Add(20 * time.Second); p.Stats().TxPackets+p.Stats().TxDropped < nframes && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	// Each queue's halves run on its CPU (the threads end with Close).
	lines, err := drivertest.CheckQueueThreads(mode, cpus)
	for _, l := range lines {
		t.Log(l)
	}
	if err != nil {
		t.Error(err)
	}
	close(stop)
	order := qemu.NewFlowOrder(nflows)
	sent := map[string]int{}
	got := 0
	ref := make([]byte, 2048)
	for fs := range frames {
		for _, f := range fs {
			got++
			fl, seq, err := qemu.ParseFlowFrame(f)
			if err != nil {
				t.Fatalf("reflected frame %d: %v", got, err)
			}
			r := flows.Frame(ref, fl, seq)
			copy(r[0:6], f[0:6]) // Reflect swaps the MACs
			copy(r[6:12], f[6:12])
			if !bytes.Equal(f, r) {
				t.Fatalf("flow %d frame %d altered", fl, seq)
			}
			if !order.Observe(fl, seq) {
				t.Fatalf("flow %d frame %d out of order", fl, seq)
			}
			sent[fmt.Sprint(fl, "/", seq)]++
		}
	}
	st := p.Stats()
	if got != nframes || order.Reordered != 0 {
		s := p.Stats()
		t.Fatalf("reflected %d of %d, %d reordered; stats %v", got, nframes, order.Reordered, &s)
	}
	for k, n := range sent {
		if n != 1 {
			t.Fatalf("frame %s reflected %d times", k, n)
		}
	}
	for q, qs := range st.Queues {
		if qs.RxPackets == 0 || qs.TxPackets == 0 {
			t.Errorf("queue %d carried no traffic: %+v", q, qs)
		}
		if qs.CPU != cpus[q] {
			t.Errorf("queue %d on CPU %d, want %d", q, qs.CPU, cpus[q])
		}
		if mode != deferral.ModeBusyPoll && qs.IRQs == 0 {
			t.Errorf("queue %d took no interrupt", q)
		}
	}
	if st.RxPackets != nframes || st.Processed != nframes || !st.Accounted() {
		t.Errorf("stats: %v", &st)
	}
	// The queues' bottom halves share the handler: it counts every frame once.
	if c := count.Counts(); c[handler.ProtoUDP] != nframes || c[handler.ProtoEthernet] != nframes {
		t.Errorf("count handler: %v, want %d UDP frames", c, nframes)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wire.Collect(0, 0)
	// The fake keeps its posted RX buffers after Close; everything else is back.
	if free := dev.pool.Available(); free < nbufs-2*127 {
		t.Errorf("%d of %d buffers back after close", free, nbufs)
	}
}

// TestPortQueuesBadConfig: an IRQ CPU list that does not match the queues is
// refused before anything starts.
func TestPortQueuesBadConfig(t *testing.T) {
	dev := openFake(t, 2, 256)
	for _, cpus := range [][]int{{0}, {0, 0, 0}} {
		if _, err := driver.NewPort(dev, driver.Config{IRQCPUs: cpus}); !errors.Is(err, driver.ErrBadConfig) {
			t.Errorf("IRQCPUs %v for 2 queues: %v, want ErrBadConfig", cpus, err)
		}
	}
}
