package e1000_test

import (
	"sync"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
)

// markTxDone plays the NIC completing every queued TX descriptor without
// allocating (Device.Transmit copies the frames out).
func markTxDone(dev *e1000test.Device, alloc *drivertest.MemAllocator) {
	n := int(dev.Reg(e1000.TDLEN(0)) / e1000.DescSize)
	base := uint64(dev.Reg(e1000.TDBAH(0)))<<32 | uint64(dev.Reg(e1000.TDBAL(0)))
	for h := int(dev.Reg(e1000.TDH(0))); h != int(dev.Reg(e1000.TDT(0))); h = (h + 1) % n {
		if d := alloc.Mem(base+uint64(h)*e1000.DescSize, e1000.DescSize); d[11]&e1000.TXD_CMD_RS != 0 {
			d[12] |= e1000.TXD_STAT_DD // written back where RS asks for it (SDM 3.3.3)
		}
		dev.SetReg(e1000.TDH(0), uint32((h+1)%n))
	}
}

// TestPacketPathAllocatesNothing: RxBurst, Refill, TxBurst, Reclaim,
// ReadCause, EnableIRQ, ReadStats, AllocBuf/FreeBuf: 0 allocations.
func TestPacketPathAllocatesNothing(t *testing.T) {
	for _, m := range []e1000.Model{e1000.Model82540EM, e1000.Model82574L} {
		t.Run(m.String(), func(t *testing.T) {
			n, dev, alloc := newNIC(t, m, e1000.Options{RxRingSize: 64, TxRingSize: 64, MSIX: m == e1000.Model82574L})
			dev.SetLogging(false)
			f := frame(1)
			rx := make([]driver.RxDesc, 32)
			tx := make([]driver.TxDesc, 32)
			var st driver.NICStats
			for _, tc := range []struct {
				name string
				fn   func()
			}{
				{"rx", func() {
					for i := 0; i < 16; i++ {
						dev.Receive(f)
					}
					k := n.RxBurst(0, rx)
					for _, p := range rx[:k] {
						n.Pool().Put(p.Buf)
					}
					n.Refill(0)
				}},
				{"rx forwarded to tx", func() {
					for i := 0; i < 16; i++ {
						dev.Receive(f)
					}
					k := n.RxBurst(0, rx)
					for i, p := range rx[:k] {
						tx[i] = driver.TxDesc{Buf: p.Buf, Len: p.Len}
					}
					sent := n.TxBurst(0, tx[:k])
					for _, p := range tx[sent:k] {
						n.Pool().Put(p.Buf)
					}
					n.Refill(0)
					markTxDone(dev, alloc)
					n.Reclaim(0)
				}},
				{"irq", func() {
					n.TriggerIRQ(e1000.ICR_LSC)
					n.ReadCause()
					n.EnableIRQ(n.Causes().All())
					n.DisableIRQ(e1000.CauseAll)
				}},
				{"stats", func() { n.ReadStats(&st); n.HWStats(); n.LinkUp() }},
				{"pool", func() {
					b, _ := n.Pool().Get()
					n.Pool().Packet(b, 60)
					n.Pool().Put(b)
				}},
			} {
				if a := testing.AllocsPerRun(200, tc.fn); a != 0 {
					t.Errorf("%s: %v allocations per run, want 0", tc.name, a)
				}
			}
		})
	}
}

// TestConcurrentPaths runs the RX path, the TX path, a consumer freeing
// buffers and the "device" in separate goroutines (meaningful under -race).
func TestConcurrentPaths(t *testing.T) {
	n, dev, _ := newNIC(t, e1000.Model82574L, e1000.Options{RxRingSize: 64, TxRingSize: 64})
	dev.SetLogging(false)
	const frames = 3000
	toFree := make(chan uint32, 256)
	var wg sync.WaitGroup
	stop := make(chan struct{})

	wg.Add(1)
	go func() { // device
		defer wg.Done()
		for i := uint32(0); ; {
			select {
			case <-stop:
				return
			default:
			}
			if i < frames && dev.Receive(frame(i)) {
				i++
			}
			dev.Transmit(8)
		}
	}()
	wg.Add(1)
	go func() { // consumer: frees received buffers from another goroutine
		defer wg.Done()
		for b := range toFree {
			n.Pool().Put(b)
		}
	}()
	txDone := make(chan struct{})
	go func() { // TX path
		defer close(txDone)
		sentTx := 0
		tx := make([]driver.TxDesc, 8)
		for sentTx < frames {
			k := 0
			for ; k < len(tx); k++ {
				b, ok := n.Pool().Get()
				if !ok {
					break
				}
				copy(n.Pool().Packet(b, 60), frame(uint32(k)))
				tx[k] = driver.TxDesc{Buf: b, Len: 60}
			}
			q := n.TxBurst(0, tx[:k])
			for _, p := range tx[q:k] {
				n.Pool().Put(p.Buf)
			}
			sentTx += q
			n.Reclaim(0)
		}
		for n.TxInFlight() > 0 {
			n.Reclaim(0)
		}
	}()
	// RX path on this goroutine.
	rx := make([]driver.RxDesc, 16)
	for got := uint32(0); got < frames; {
		k := n.RxBurst(0, rx)
		for _, p := range rx[:k] {
			toFree <- p.Buf
		}
		got += uint32(k)
		n.Refill(0)
	}
	close(toFree)
	<-txDone
	close(stop)
	wg.Wait()
	// The consumer may still have held buffers when the RX path last
	// refilled: with every free done, one more refill fills the ring.
	n.Refill(0)
	if got, want := n.Pool().Available(), n.Pool().Len()-(n.RxRingSize()-1); got != want {
		t.Fatalf("free buffers %d, want %d: a buffer was lost", got, want)
	}
}
