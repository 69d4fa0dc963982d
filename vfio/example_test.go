package vfio_test

import (
	"context"
	"fmt"

	"github.com/uiodrv/uiodrv/vfio"
)

// Open a NIC bound to vfio-pci, read its STATUS register, get DMA memory and
// take one INTx interrupt (e1000 register offsets).
func Example() {
	d, err := vfio.Open("0000:00:03.0", nil)
	if err != nil {
		fmt.Println(err) // says what to do: load modules, bind, enable the IOMMU...
		return
	}
	defer d.Close() // releases DMA regions, IRQs, BARs, fds
	bar, _ := d.BAR(0)
	fmt.Printf("STATUS %#x\n", bar.Read32(0x8))
	_ = d.EnableBusMaster()
	alloc, _ := d.Allocator(vfio.AllocatorOptions{})
	ring, _ := alloc.Alloc(4096)
	fmt.Printf("ring at IOVA %#x\n", ring.Addr())
	irq, _ := d.EnableINTx()
	bar.Write32(0xD0, 0x4) // IMS: LSC
	bar.Write32(0xC8, 0x4) // ICS: raise LSC
	if _, err := irq.Wait(context.Background()); err == nil {
		bar.Read32(0xC0) // ICR: acknowledge
		_ = irq.Unmask()
	}
}
