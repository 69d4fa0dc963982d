package e1000_test

import (
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/mmio"
)

// BenchmarkReflect measures the driver's share of reflecting a burst of 32
// frames (RxBurst, Refill, TxBurst, Reclaim) on the fake device, and
// reports it as a ratio to a baseline measured in the same run: passing the
// same 32 buffer indices through a buffered channel and back. It also reports
// the register accesses per frame (regs/frame): each one is a trap into QEMU
// or an uncached PCIe round trip on hardware, and they, not the nanoseconds
// on a fake register file, are what the driver's data path costs.
func BenchmarkReflect(b *testing.B) {
	const burst = 32
	dev, alloc := newFake(b, e1000.Model82540EM)
	dev.SetLogging(false)
	regs := mmio.NewCounting(dev)
	n, err := e1000.New(regs, alloc, mustPool(alloc), e1000.Model82540EM, e1000.Options{RxRingSize: 256, TxRingSize: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	f := frame(0)
	rx := make([]driver.RxDesc, burst)
	tx := make([]driver.TxDesc, burst)

	ch := make(chan uint32, burst)
	const baseRounds = 20000
	t0 := nanotime()
	for r := 0; r < baseRounds; r++ {
		for i := uint32(0); i < burst; i++ {
			ch <- i
		}
		for i := 0; i < burst; i++ {
			<-ch
		}
	}
	baseNs := float64(nanotime()-t0) / baseRounds

	b.ReportAllocs()
	var driverNs int64
	var frames uint64
	acc0 := regs.Snapshot()
	for b.Loop() {
		b.StopTimer()
		for i := 0; i < burst; i++ {
			dev.Receive(f)
		}
		b.StartTimer()
		t0 := nanotime()
		k := n.RxBurst(0, rx)
		frames += uint64(k)
		for i, p := range rx[:k] {
			tx[i] = driver.TxDesc{Buf: p.Buf, Len: p.Len}
		}
		n.Refill(0)
		sent := n.TxBurst(0, tx[:k])
		for _, p := range tx[sent:k] {
			n.Pool().Put(p.Buf)
		}
		driverNs += nanotime() - t0
		b.StopTimer()
		markTxDone(dev, alloc)
		b.StartTimer()
		t0 = nanotime()
		n.Reclaim(0)
		driverNs += nanotime() - t0
	}
	// The fake's own accesses (Receive, markTxDone) bypass the wrapper, so
	// this counts the driver's alone.
	b.ReportMetric(regs.Snapshot().Sub(acc0).PerFrame(frames), "regs/frame")
	if b.N > 0 && baseNs > 0 {
		b.ReportMetric(float64(driverNs)/float64(b.N)/baseNs, "x-chan-baseline")
		b.ReportMetric(float64(driverNs)/float64(b.N), "driver-ns/burst")
	}
}

func nanotime() int64 { return time.Now().UnixNano() }
