package bus

import (
	"fmt"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/mmio"
)

// Access is how a family's Open reaches its device, the same for every
// family: each family's OpenOptions embeds it, and AccessOf takes it from
// the registry's family-neutral options.
type Access struct {
	// Backend reaches the device: driver.BackendVFIO (the zero value) or
	// driver.BackendUIO (INTx only, no IOMMU, root only).
	Backend driver.Backend
	// Hugepages backs VFIO DMA memory with 2 MiB pages (UIO always uses
	// them).
	Hugepages bool
	// VFIOAPI picks the VFIO interface; the zero value, VFIOAuto, takes the
	// cdev where /dev/iommu and the device's cdev exist.
	VFIOAPI driver.VFIOAPI
	// CountRegs counts every register access (mmio.Counting around the
	// BAR): each is a trap into QEMU or an uncached PCIe round trip. It
	// costs an atomic add per access.
	CountRegs bool
}

// AccessOf is the device access o asks for.
func AccessOf(o driver.OpenOptions) Access {
	return Access{Backend: o.Backend, Hugepages: o.Hugepages, VFIOAPI: o.VFIOAPI, CountRegs: o.CountRegs}
}

// NICStart is what every family's Open begins with: the bus, opened with
// the family's quiescer (bus mastering last); the device's PCI ID, checked
// by the family before anything is made; a packet-buffer pool over the
// bus's DMA memory; and the registers, counted when asked. The families
// differ only after it: vectors, rings, initialisation in datasheet order.
type NICStart struct {
	Bus  *Bus
	Pool *driver.BufPool
	// Regs are Bus.Regs, or Counter around them.
	Regs    mmio.Regs
	Counter *mmio.Counting // nil unless Access.CountRegs
}

// StartNIC opens bdf as a asks, quiescing the NIC with q before bus
// mastering, lets known (the family's model lookup) refuse a PCI ID the
// family does not drive, makes a pool of buffers packet buffers and wraps
// the registers in a counter when a.CountRegs. On error nothing is left
// open.
func StartNIC(bdf string, a Access, q Quiescer, known func(vendor, device uint16) error, buffers int) (_ *NICStart, err error) {
	bs, err := Open(bdf, a.Backend, Options{Hugepages: a.Hugepages, VFIOAPI: a.VFIOAPI, Quiesce: q})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			bs.Close()
		}
	}()
	if err = known(bs.Vendor, bs.DeviceID); err != nil {
		return nil, fmt.Errorf("%s: %w", bs.BDF, err)
	}
	pool, err := driver.NewBufPool(bs.Alloc, buffers)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bs.BDF, err)
	}
	s := &NICStart{Bus: bs, Pool: pool, Regs: bs.Regs}
	if a.CountRegs {
		s.Counter = mmio.NewCounting(bs.Regs)
		s.Regs = s.Counter
	}
	return s, nil
}
