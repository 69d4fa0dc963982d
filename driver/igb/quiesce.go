package igb

import (
	"github.com/uiodrv/uiodrv/bus"

	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

var _ bus.Quiescer = Quiesce

// Quiesce stops an igb-family NIC that an earlier process may have left
// running, through BAR0 alone, before bus mastering is turned on
// (bus.Options.Quiesce; intel.Quiesce says why and in which state). It is
// New's own reset: EIMC and IMC, RCTL.EN and TCTL.EN cleared, CTRL.RST
// (82576 4.3.1), the masks again. A PCI ID that is not an igb-family model
// is refused before any register is written.
func Quiesce(regs mmio.Regs, vendor, device uint16) error {
	return intel.Quiesce("igb", regs, vendor, device, LookupModel, resetRegs)
}

// resetRegs is New's reset on a NIC that is nothing but its registers.
func resetRegs(regs mmio.Regs, m Model) error {
	(&NIC{regs: regs, model: m}).reset()
	return nil
}

// StopRX masks the extended interrupts (EIMC) too, then stops like
// intel.StopRX: for a process that exits at once (a second signal).
func StopRX(regs mmio.Regs) {
	regs.Write32(uint32(EIMC), ^uint32(0))
	intel.StopRX(regs, ^uint32(0))
}
