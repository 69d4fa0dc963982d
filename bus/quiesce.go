package bus

import (
	"fmt"

	"github.com/uiodrv/uiodrv/mmio"
	"github.com/uiodrv/uiodrv/pci"
)

// Quiescer stops a NIC that may still be running from an earlier process,
// through its registers alone: interrupts masked, receive and transmit
// disabled, the MAC reset and waited for. vendor and device are the
// function's PCI ID, so that a family can refuse a device it does not know
// before it writes a register. It is called with Memory Space on and Bus
// Master Enable off, so the NIC cannot write memory while it runs.
type Quiescer func(regs mmio.Regs, vendor, device uint16) error

// EnableBusMaster is Open's last step: it turns Bus Master Enable off
// (a crashed or killed run may have left it on, and with it RCTL.EN and the
// physical address of a ring that process freed), turns Memory Space on so
// that the BAR answers, quiesces the NIC through regs with q, and only then
// turns Bus Master Enable on. Until q has reset the NIC, it cannot write a
// single descriptor. A nil q enables bus mastering at once (a device that
// keeps no state across users). When q fails, bus mastering stays off.
func EnableBusMaster(cfg *pci.Config, regs mmio.Regs, q Quiescer) error {
	if _, err := cfg.UpdateCommand(pci.CmdMemory, pci.CmdMaster); err != nil {
		return fmt.Errorf("enable memory space, bus master off: %w", err)
	}
	if q != nil {
		vendor, err := cfg.Read16(pci.CfgVendorID)
		if err != nil {
			return fmt.Errorf("quiesce: read vendor ID: %w", err)
		}
		device, err := cfg.Read16(pci.CfgDeviceID)
		if err != nil {
			return fmt.Errorf("quiesce: read device ID: %w", err)
		}
		if err := q(regs, vendor, device); err != nil {
			return fmt.Errorf("quiesce before bus mastering: %w", err)
		}
	}
	if _, err := cfg.UpdateCommand(pci.CmdMaster, 0); err != nil {
		return fmt.Errorf("enable bus mastering: %w", err)
	}
	return nil
}
