package e1000

import (
	"fmt"
	"github.com/uiodrv/uiodrv/bus"

	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

var _ bus.Quiescer = Quiesce

// Quiesce stops an e1000/e1000e that an earlier process may have left
// running, through BAR0 alone, before bus mastering is turned on
// (bus.Options.Quiesce): a killed run leaves RCTL.EN set and the
// physical address of a ring it no longer owns in RDBAL/RDBAH. It masks
// every interrupt (IMC), clears RCTL.EN and TCTL.EN, resets the MAC
// (CTRL.RST, waited for; SDM 13.4.1, 82574 4.6.2) and masks again: the
// steps of New's own reset. A PCI ID that is not an e1000-family model is
// refused before any register is written.
func Quiesce(regs mmio.Regs, vendor, device uint16) error {
	m, err := LookupModel(vendor, device)
	if err != nil {
		return fmt.Errorf("e1000: quiesce: %w", err)
	}
	n := &NIC{regs: regs, model: m}
	if err := n.reset(); err != nil {
		return fmt.Errorf("e1000: quiesce %v: %w", m, err)
	}
	return nil
}

// StopRX masks every interrupt and clears RCTL.EN and TCTL.EN through regs,
// without waiting: for a process that exits at once (a second signal), so
// that the NIC stops fetching and writing descriptors even while bus
// mastering is still on. The next Open resets the NIC.
func StopRX(regs mmio.Regs) {
	regs.Write32(uint32(intel.IMC), uint32(CauseAll))
	regs.Write32(uint32(intel.RCTL), 0)
	regs.Write32(uint32(intel.TCTL), intel.TCTL_PSP)
	regs.Read32(uint32(intel.STATUS)) // flush the posted writes
}
