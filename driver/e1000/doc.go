// Package e1000 is the hardware layer of the userspace driver for Intel's
// e1000 family: everything that touches the NIC's registers and descriptor
// rings. It knows nothing of VFIO, UIO or PCI: it takes BAR0 as an mmio.Regs
// and gets DMA memory from a dma.Allocator and packet buffers from a
// driver.BufPool, so the same code runs on either backend and, in unit
// tests, on the fake device of package e1000test. Open (device.go) adds the
// bus: it opens the device, makes the pool and attaches the interrupts.
//
// # Supported devices
//
//	8086:100e  82540EM  (QEMU "e1000")
//	8086:100f  82545EM
//	8086:100c  82544GC  (no EERD, no ITR/RADV)
//	8086:10d3  82574L   (QEMU "e1000e"; INTx, MSI or MSI-X with Options.MSIX)
//
// Only legacy descriptors, one RX and one TX queue, 2 KiB buffers (one frame
// per descriptor, no jumbo frames), no offloads.
//
// # References
//
// Section numbers in comments ("SDM 14.4", "82574 10.2.4.9") refer to:
//
//   - PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
//     Manual (8254x SDM), revision 4.0, Intel document 317453-006
//     (317453006EN.PDF).
//   - Intel 82574 GbE Controller Family Datasheet, revision 3.4, Intel
//     document 317694.
//
// Register names follow Linux's e1000_hw.h without the E1000_ prefix.
//
// # Use
//
// Open a NIC by PCI address and run it behind the core (driver.NewPort):
//
//	dev, err := e1000.Open("0000:00:03.0", e1000.OpenOptions{})
//	port, err := driver.NewPort(dev, driver.Config{Handler: handler.Reflect{}})
//
// Or, on registers and DMA memory of your own (a fake in tests), New gives
// the driver.NIC: RxBurst, Refill, TxBurst and Reclaim on queue 0, with the
// ring bookkeeping of driver.RxRing and driver.TxRing over the legacy
// descriptor codec of rx.go and tx.go.
//
// # Invariants
//
//   - RDT is never written equal to RDH: at most RxRingSize-1 buffers are
//     posted, because RDT == RDH means "no free descriptors" to the NIC
//     (SDM 3.2.6). Likewise at most TxRingSize-1 frames are queued, because
//     TDT == TDH means "nothing to send" (SDM 3.4).
//   - Tails are written once per batch, never per frame: RDT once
//     driver.RxFreeThresh (32) buffers wait for it or when the NIC sees
//     that many descriptors or fewer; TDT once per TxBurst, or per
//     SetTxBatch frames and FlushTx. RS is set on every
//     driver.TxRSThresh-th TX descriptor and on the last before each TDT
//     write, and Reclaim frees by those descriptors' DD alone. SetIRQ
//     enables no TX-completion interrupt.
//   - Descriptor writes are visible to the NIC before the tail write that
//     hands them over: x86 stores are seen in program order, also by a device
//     and also relative to the uncached MMIO store, and the Go compiler does
//     not move stores past the tail write, a call through mmio.Regs into a
//     noinline store. No fence is needed on amd64, the only platform this
//     package is meant for.
//   - The dword holding a descriptor's status is read with one atomic load
//     before its length (desc_unsafe.go): the acquire that makes the length
//     read after DD the one the NIC wrote.
//   - Everything the NIC writes back is untrusted: a length above BufSize is
//     clamped and flagged RXD_ERR_RXE; buffer indices come from the driver's
//     own records, never from descriptors.
//   - Registers are written with plain stores, never XCHG (mmio.BAR), since
//     ICR and the statistics registers clear on read.
//   - RCTL is written once during New: QEMU's e1000 ignores RX for one second
//     after each RCTL write.
//   - The per-packet path (RxBurst, Refill, TxBurst, Reclaim, AckIRQ)
//     allocates nothing, takes no lock, copies no burst, and returns counts,
//     not errors. Reinit stops it through the rings' gates (two atomic adds
//     per burst).
//   - Every buffer has one owner at a time: the pool, the RX ring, the caller
//     (after RxBurst or the pool's Get), or the TX ring (after TxBurst, until
//     Reclaim). The pool panics on a double free.
//   - DMA memory is never Go heap memory and holds no Go pointers; Close
//     masks interrupts, releases the vectors, turns bus mastering off and
//     resets the NIC before releasing it, keeps it if the reset fails, and
//     is idempotent.
//
// # Concurrency
//
// See NIC: driver.NIC's rules (one goroutine at a time per path), the
// buffer pool and the interrupt methods from anywhere.
package e1000
