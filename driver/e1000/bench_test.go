package e1000_test

import (
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/mmio"
)

// BenchmarkReflect measures the driver's share of reflecting a burst of 32
// frames (RxBurst, RefillRx, TxBurst, ReclaimTx) on the fake device, and
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
	n, err := e1000.New(regs, alloc, e1000.Model82540EM, e1000.Options{RxRingSize: 256, TxRingSize: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	f := frame(0)
	rx := make([]e1000.RxPacket, burst)
	tx := make([]e1000.TxPacket, burst)

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
		k := n.RxBurst(rx)
		frames += uint64(k)
		for i, p := range rx[:k] {
			tx[i] = e1000.TxPacket{Buf: p.Buf, Len: p.Len}
		}
		n.RefillRx()
		sent := n.TxBurst(tx[:k])
		for _, p := range tx[sent:k] {
			n.FreeBuf(p.Buf)
		}
		driverNs += nanotime() - t0
		b.StopTimer()
		markTxDone(dev, alloc)
		b.StartTimer()
		t0 = nanotime()
		n.ReclaimTx()
		driverNs += nanotime() - t0
	}
	// The fake's own accesses (Receive, markTxDone) bypass the wrapper, so
	// this counts the driver's alone.
	b.ReportMetric(regs.Snapshot().Sub(acc0).PerFrame(frames), "regs/frame")
	if b.N > 0 && baseNs > 0 {
		b.ReportMetric(float64(driverNs)/float64(b.N)/baseNs, "x-chan-baseline")
	}
}

func nanotime() int64 { return time.Now().UnixNano() }
