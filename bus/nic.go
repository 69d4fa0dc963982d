package bus

import (
	"fmt"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/mmio"
)

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
	Counter *mmio.Counting // nil unless countRegs
}

// StartNIC opens bdf through backend b with o, lets known (the family's
// model lookup) refuse a PCI ID the family does not drive, makes a pool of
// buffers packet buffers and wraps the registers in a counter when
// countRegs. On error nothing is left open.
func StartNIC(bdf string, b driver.Backend, o Options, known func(vendor, device uint16) error, buffers int, countRegs bool) (_ *NICStart, err error) {
	bs, err := Open(bdf, b, o)
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
	if countRegs {
		s.Counter = mmio.NewCounting(bs.Regs)
		s.Regs = s.Counter
	}
	return s, nil
}
