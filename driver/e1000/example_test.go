package e1000_test

import (
	"fmt"

	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
)

// A reflector: receive frames, send them back out from the same buffers.
// The fake device stands in for BAR0 and the NIC; with a real device, bar0
// comes from the vfio or uio package and alloc is its DMA allocator.
func Example() {
	alloc := e1000test.NewAllocator()
	bar0 := e1000test.New(e1000.Model82540EM, alloc)

	m, err := e1000.LookupModel(0x8086, 0x100e)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := e1000.New(bar0, alloc, m, e1000.Options{RxRingSize: 64, TxRingSize: 64})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()
	n.EnableIRQ(n.Causes().All())
	fmt.Println(m, n.MAC())

	bar0.Receive([]byte("a frame of at least sixty bytes .............................."))
	fmt.Println("interrupt:", n.ReadCause())

	rx := make([]e1000.RxPacket, 32)
	tx := make([]e1000.TxPacket, 32)
	k := n.RxBurst(rx)
	for i, p := range rx[:k] {
		fmt.Printf("received %d bytes: %.7s\n", p.Len, n.Packet(p.Buf, int(p.Len)))
		tx[i] = e1000.TxPacket{Buf: p.Buf, Len: p.Len}
	}
	n.RefillRx()
	sent := n.TxBurst(tx[:k])
	for _, p := range tx[sent:k] { // ring full: drop
		n.FreeBuf(p.Buf)
	}

	out := bar0.Transmit(0)
	fmt.Printf("the NIC sent %d frame(s); reclaimed %d\n", len(out), n.ReclaimTx())
	// Output:
	// 82540EM 52:54:00:12:34:56
	// interrupt: RXT0
	// received 62 bytes: a frame
	// the NIC sent 1 frame(s); reclaimed 1
}
