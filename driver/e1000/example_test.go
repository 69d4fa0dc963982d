package e1000_test

import (
	"fmt"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
)

// A reflector on the driver.NIC methods the core calls: receive frames,
// send them back out from the same buffers. The fake device stands in for
// BAR0 and the NIC; with a real device, use Open and driver.NewPort.
func Example() {
	alloc := drivertest.NewMemAllocator()
	bar0 := e1000test.New(e1000.Model82540EM, alloc)

	m, err := e1000.LookupModel(0x8086, 0x100e)
	if err != nil {
		fmt.Println(err)
		return
	}
	pool, err := driver.NewBufPool(alloc, 192)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	n, err := e1000.New(bar0, alloc, pool, m, e1000.Options{RxRingSize: 64, TxRingSize: 64})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()
	n.SetIRQ(0, driver.CauseRX|driver.CauseLink, true)
	fmt.Println(m, n.MAC())

	bar0.Receive([]byte("a frame of at least sixty bytes .............................."))
	fmt.Println("interrupt:", n.AckIRQ(0))

	rx := make([]driver.RxDesc, 32)
	tx := make([]driver.TxDesc, 32)
	k := n.RxBurst(0, rx)
	for i, p := range rx[:k] {
		fmt.Printf("received %d bytes: %.7s\n", p.Len, pool.Packet(p.Buf, int(p.Len)))
		tx[i] = driver.TxDesc{Buf: p.Buf, Len: p.Len}
	}
	n.Refill(0)
	sent := n.TxBurst(0, tx[:k])
	for _, p := range tx[sent:k] { // ring full: drop
		pool.Put(p.Buf)
	}

	out := bar0.Transmit(0)
	fmt.Printf("the NIC sent %d frame(s); reclaimed %d\n", len(out), n.Reclaim(0))
	// Output:
	// 82540EM 52:54:00:12:34:56
	// interrupt: rx
	// received 62 bytes: a frame
	// the NIC sent 1 frame(s); reclaimed 1
}
