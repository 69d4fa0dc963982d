package e1000

import (
	"github.com/uiodrv/uiodrv/bus"

	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

var _ bus.Quiescer = Quiesce

// Quiesce stops an e1000/e1000e that an earlier process may have left
// running, through BAR0 alone, before bus mastering is turned on
// (bus.Options.Quiesce; intel.Quiesce says why and in which state). It is
// New's own reset: IMC, RCTL.EN and TCTL.EN cleared, CTRL.RST waited for
// (SDM 13.4.1, 82574 4.6.2), IMC again. A PCI ID that is not an
// e1000-family model is refused before any register is written.
func Quiesce(regs mmio.Regs, vendor, device uint16) error {
	return intel.Quiesce("e1000", regs, vendor, device, LookupModel, resetRegs)
}

// resetRegs is New's reset on a NIC that is nothing but its registers.
func resetRegs(regs mmio.Regs, m Model) error { return (&NIC{regs: regs, model: m}).reset() }

// StopRX is intel.StopRX with every e1000 cause masked: for a process that
// exits at once (a second signal).
func StopRX(regs mmio.Regs) { intel.StopRX(regs, uint32(CauseAll)) }
