package e1000_test

import (
	"fmt"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/mmio"
)

// BenchmarkReflectBursts reports the register accesses per reflected frame
// (regs/frame) when frames come k at a time, as polls under QEMU's TCG find
// them (1 to 4 per poll in the lab): RxBurst, Refill, TxBurst and
// Reclaim per burst of k. Before the MMIO diet every burst cost an RDT and
// a TDT write (2/k per frame); after it RDT costs 1/32 and TDT 1/k, or 1/32
// with SetTxBatch(32) as busy poll sets it.
func BenchmarkReflectBursts(b *testing.B) {
	for _, k := range []int{1, 4, 32} {
		b.Run(fmt.Sprintf("burst%d", k), func(b *testing.B) { benchBursts(b, k, false) })
	}
	for _, k := range []int{1, 4} {
		b.Run(fmt.Sprintf("burst%d-txbatch32", k), func(b *testing.B) { benchBursts(b, k, true) })
	}
}

func benchBursts(b *testing.B, k int, batch bool) {
	dev, alloc := newFake(b, e1000.Model82540EM)
	dev.SetLogging(false)
	regs := mmio.NewCounting(dev)
	n, err := e1000.New(regs, alloc, mustPool(alloc), e1000.Model82540EM, e1000.Options{RxRingSize: 256, TxRingSize: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	setTxBatch(n, batch)
	f := frame(0)
	rx := make([]driver.RxDesc, k)
	tx := make([]driver.TxDesc, k)
	b.ReportAllocs()
	var frames uint64
	acc0 := regs.Snapshot()
	for b.Loop() {
		for i := 0; i < k; i++ {
			dev.Receive(f)
		}
		got := n.RxBurst(0, rx)
		frames += uint64(got)
		for i, p := range rx[:got] {
			tx[i] = driver.TxDesc{Buf: p.Buf, Len: p.Len}
		}
		n.Refill(0)
		sent := n.TxBurst(0, tx[:got])
		for _, p := range tx[sent:got] {
			n.Pool().Put(p.Buf)
		}
		markTxDone(dev, alloc)
		n.Reclaim(0)
	}
	b.ReportMetric(regs.Snapshot().Sub(acc0).PerFrame(frames), "regs/frame")
}

func setTxBatch(n *e1000.NIC, on bool) {
	if on {
		n.SetTxBatch(32)
	}
}
