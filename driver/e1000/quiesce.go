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

// StopRX is intel.StopRX with every e1000 cause masked: for a process that
// exits at once (a second signal).
func StopRX(regs mmio.Regs) { intel.StopRX(regs, uint32(CauseAll)) }
