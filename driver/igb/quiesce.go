package igb

import (
	"fmt"
	"github.com/uiodrv/uiodrv/bus"

	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

var _ bus.Quiescer = Quiesce

// Quiesce stops an igb-family NIC that an earlier process may have left
// running, through BAR0 alone, before bus mastering is turned on
// (bus.Options.Quiesce): a killed run leaves RCTL.EN and the rings'
// physical addresses in the NIC. It masks every interrupt (EIMC, IMC),
// clears RCTL.EN and TCTL.EN, resets the MAC (CTRL.RST; 82576 4.3.1) and
// masks again: the steps of New's own reset. A PCI ID that is not an
// igb-family model is refused before any register is written.
func Quiesce(regs mmio.Regs, vendor, device uint16) error {
	m, err := LookupModel(vendor, device)
	if err != nil {
		return fmt.Errorf("igb: quiesce: %w", err)
	}
	n := &NIC{regs: regs, model: m}
	n.reset()
	return nil
}

// StopRX masks the extended interrupts (EIMC) too, then stops like
// intel.StopRX: for a process that exits at once (a second signal).
func StopRX(regs mmio.Regs) {
	regs.Write32(uint32(EIMC), ^uint32(0))
	intel.StopRX(regs, ^uint32(0))
}
