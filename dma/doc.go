// Package dma is the one DMA memory type that every backend hands out.
//
// A Region is a block of memory outside the Go heap (an mmap) that a device
// can read and write: its bytes for the CPU and its device address for the
// NIC's descriptors. Under VFIO the device address is an IOVA mapped through
// the IOMMU; under UIO it is a physical address. Code above the backends
// (driver/, driver/e1000/) only ever sees a Region and an Allocator, and never
// knows which backend it runs on.
//
// A Region is contiguous for the device, or segmented (UIO hugepages in no
// physical order): AddrOf gives any byte's device address, and whatever the
// device reads as one block must lie inside one Segment.
//
// A Region never holds Go pointers (the garbage collector does not scan it)
// and is unmapped by Close, which is idempotent.
package dma
