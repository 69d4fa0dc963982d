package e1000_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
)

// BenchmarkReflectNIC is BenchmarkReflect through driver.NIC, the interface
// the core calls: the driver's share of reflecting a burst of 32 frames.
func BenchmarkReflectNIC(b *testing.B) {
	const burst = 32
	dev, alloc := newFake(b, e1000.Model82540EM)
	dev.SetLogging(false)
	n, err := e1000.New(dev, alloc, mustPool(alloc), e1000.Model82540EM, e1000.Options{RxRingSize: 256, TxRingSize: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	nic, bufs := driver.NIC(n), driver.Buffers(n.Pool())
	f := frame(0)
	rx := make([]driver.RxDesc, burst)
	tx := make([]driver.TxDesc, burst)
	var driverNs int64
	for b.Loop() {
		b.StopTimer()
		for i := 0; i < burst; i++ {
			dev.Receive(f)
		}
		b.StartTimer()
		t0 := nanotime()
		k := nic.RxBurst(0, rx)
		for i, p := range rx[:k] {
			tx[i] = driver.TxDesc{Buf: p.Buf, Len: p.Len}
		}
		nic.Refill(0)
		sent := nic.TxBurst(0, tx[:k])
		if sent < k {
			free := make([]uint32, 0, k-sent)
			for _, p := range tx[sent:k] {
				free = append(free, p.Buf)
			}
			bufs.PutMany(free)
		}
		driverNs += nanotime() - t0
		b.StopTimer()
		markTxDone(dev, alloc)
		b.StartTimer()
		t0 = nanotime()
		nic.Reclaim(0)
		driverNs += nanotime() - t0
	}
	b.ReportMetric(float64(driverNs)/float64(b.N), "driver-ns/burst")
}
