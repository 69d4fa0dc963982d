package intel

import (
	"fmt"

	"github.com/uiodrv/uiodrv/mmio"
)

// Quiesce is what the Intel families' bus.Quiescer does, over the family's
// own model lookup and reset. A run that was killed leaves RCTL.EN set and
// the physical address of a ring it no longer owns in the NIC; the bus calls
// the quiescer with Memory Space on and Bus Master Enable off, so the NIC
// cannot write through that address while it is being stopped. lookup
// refuses a PCI ID outside the family before any register is written; reset
// is the family's own reset (interrupts masked, RX and TX disabled, CTRL.RST
// waited for, interrupts masked again) on a NIC that is nothing but regs.
// Errors name the family and, once it is known, the model.
func Quiesce[M fmt.Stringer](family string, regs mmio.Regs, vendor, device uint16,
	lookup func(vendor, device uint16) (M, error), reset func(mmio.Regs, M) error) error {
	m, err := lookup(vendor, device)
	if err != nil {
		return fmt.Errorf("%s: quiesce: %w", family, err)
	}
	if err := reset(regs, m); err != nil {
		return fmt.Errorf("%s: quiesce %v: %w", family, m, err)
	}
	return nil
}
