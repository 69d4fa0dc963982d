package e1000_test

import (
	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver/intel"
	"testing"

	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
	"github.com/uiodrv/uiodrv/mmio"
)

// TestQuiesceBeforeBusMaster: a NIC left receiving by a killed run (RCTL.EN
// set, a stale ring address, Bus Master still on) has its interrupts masked,
// RX and TX disabled and the MAC reset before Bus Master Enable is set, and
// bus mastering is switched off first. With bus mastering enabled before the
// quiesce (OpenBus's old order), the test fails.
func TestQuiesceBeforeBusMaster(t *testing.T) {
	for _, tc := range []struct {
		model  e1000.Model
		device uint16
	}{{e1000.Model82540EM, 0x100e}, {e1000.Model82574L, 0x10d3}} {
		t.Run(tc.model.String(), func(t *testing.T) {
			fake := e1000test.New(tc.model, drivertest.NewMemAllocator())
			fake.SetReg(intel.RCTL, intel.RCTL_EN)
			fake.SetReg(e1000.RDBAL(0), 0x7f000000)
			log := drivertest.NewBusLog(0x8086, tc.device, bus.CmdMemory|bus.CmdMaster)
			if err := bus.EnableBusMaster(log.Config(), log.Regs(fake), e1000.Quiesce); err != nil {
				t.Fatal(err)
			}
			ev := log.Events()
			m := drivertest.MasterIndex(ev)
			if m < 0 {
				t.Errorf("bus mastering never set by a write: %v", ev)
				m = len(ev)
			}
			for _, e := range ev {
				if !e.Cfg && e.Master {
					t.Errorf("%v: a register written while the NIC could DMA (%v)", e, ev)
				}
			}
			for _, st := range []struct {
				what string
				off  e1000.Reg
				ok   func(uint32) bool
			}{
				{"IMC all", intel.IMC, func(v uint32) bool { return v == uint32(e1000.CauseAll) }},
				{"RCTL.EN cleared", intel.RCTL, func(v uint32) bool { return v&intel.RCTL_EN == 0 }},
				{"TCTL.EN cleared", intel.TCTL, func(v uint32) bool { return v&intel.TCTL_EN == 0 }},
				{"CTRL.RST", intel.CTRL, func(v uint32) bool { return v&intel.CTRL_RST != 0 }},
			} {
				if i := drivertest.FirstWrite(ev, uint32(st.off), st.ok); i < 0 || i > m {
					t.Errorf("%s at event %d, bus master at %d: want it strictly before (%v)", st.what, i, m, ev)
				}
			}
			if fake.Reg(intel.RCTL)&intel.RCTL_EN != 0 || fake.Reg(e1000.RDBAL(0)) != 0 {
				t.Errorf("after quiesce RCTL %#x RDBAL %#x: want the reset's zeros", fake.Reg(intel.RCTL), fake.Reg(e1000.RDBAL(0)))
			}
			if c := log.Command(); c&(bus.CmdMaster|bus.CmdMemory) != bus.CmdMaster|bus.CmdMemory {
				t.Errorf("command %#x: want Memory Space and Bus Master on", c)
			}
		})
	}
}

// TestQuiesceRefusesUnknownDevice: a PCI ID the family does not drive (a
// virtio-net) gets an error before any register is written, and bus
// mastering stays off.
func TestQuiesceRefusesUnknownDevice(t *testing.T) {
	fake := e1000test.New(e1000.Model82540EM, drivertest.NewMemAllocator())
	drivertest.CheckQuiesceRefuses(t, e1000.Quiesce, fake, 0x1af4, 0x1000)
}

// TestStopRX: the forced-exit step clears RX and TX enable and masks
// interrupts, not only the bus-master bit.
func TestStopRX(t *testing.T) {
	fake := e1000test.New(e1000.Model82540EM, drivertest.NewMemAllocator())
	fake.SetReg(intel.RCTL, intel.RCTL_EN)
	fake.SetReg(intel.TCTL, intel.TCTL_EN)
	fake.SetReg(intel.IMS, 0xff)
	var r mmio.Regs = fake
	e1000.StopRX(r)
	if fake.Reg(intel.RCTL)&intel.RCTL_EN != 0 || fake.Reg(intel.TCTL)&intel.TCTL_EN != 0 || fake.Reg(intel.IMS) != 0 {
		t.Errorf("RCTL %#x TCTL %#x IMS %#x after StopRX", fake.Reg(intel.RCTL), fake.Reg(intel.TCTL), fake.Reg(intel.IMS))
	}
}
