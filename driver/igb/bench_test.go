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

// BenchmarkReflect reflects bursts of 32 frames on queue 0 of the fake
// (RxBurst, Refill, TxBurst, Reclaim, plus AckIRQ of the queue's vector once
// per burst) and reports the register accesses per frame (regs/frame): each
// is a trap into QEMU or an uncached PCIe round trip on hardware, which is
// what the data path costs, unlike nanoseconds on a fake register file.
// It also reports the driver's time per burst as a ratio to passing the same
// 32 buffer indices through a buffered channel, measured in the same run.
func BenchmarkReflect(b *testing.B) {
	const burst = 32
	alloc := drivertest.NewMemAllocator()
	dev, err := igbtest.New(alloc, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer dev.Close()
	dev.SetLogging(false)
	pool, err := driver.NewBufPool(alloc, 1024)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	regs := mmio.NewCounting(dev)
	n, err := igb.New(regs, alloc, pool, igb.Model82576, igb.Options{Vectors: dev.Vectors(), LinkWait: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	f := make([]byte, 60)
	rx := make([]driver.RxDesc, burst)
	tx := make([]driver.TxDesc, burst)

	ch := make(chan uint32, burst)
	const baseRounds = 20000
	t0 := time.Now()
	for r := 0; r < baseRounds; r++ {
		for i := uint32(0); i < burst; i++ {
			ch <- i
		}
		for i := 0; i < burst; i++ {
			<-ch
		}
	}
	baseNs := float64(time.Since(t0).Nanoseconds()) / baseRounds

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
		t := time.Now()
		n.AckIRQ(0)
		k := n.RxBurst(0, rx)
		frames += uint64(k)
		for i, p := range rx[:k] {
			tx[i] = driver.TxDesc{Buf: p.Buf, Len: p.Len}
		}
		sent := n.TxBurst(0, tx[:k])
		n.Refill(0)
		driverNs += time.Since(t).Nanoseconds()
		b.StopTimer()
		dev.Transmit()
		b.StartTimer()
		t = time.Now()
		n.Reclaim(0)
		driverNs += time.Since(t).Nanoseconds()
		if sent != k || k != burst {
			b.Fatalf("burst: received %d, sent %d", k, sent)
		}
	}
	acc := regs.Snapshot().Sub(acc0)
	b.ReportMetric(acc.PerFrame(frames), "regs/frame")
	b.ReportMetric(float64(driverNs)/float64(b.N)/baseNs, "x-chan")
	b.ReportMetric(float64(driverNs)/float64(b.N), "driver-ns/burst")
}
