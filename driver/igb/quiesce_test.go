package igb_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/igb/igbtest"
	"github.com/uiodrv/uiodrv/pci"
)

// TestQuiesceBeforeBusMaster: an 82576 left receiving by a killed run is
// masked, its RX and TX disabled and its MAC reset while Bus Master Enable
// is off; bus mastering comes on only after. With bus mastering enabled
// before the quiesce (OpenBus's old order), the test fails.
func TestQuiesceBeforeBusMaster(t *testing.T) {
	fake, err := igbtest.New(e1000test.NewAllocator(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.Write32(uint32(igb.RCTL), igb.RCTL_EN)
	log := drivertest.NewBusLog(0x8086, 0x10c9, pci.CmdMemory|pci.CmdMaster)
	if err := driver.EnableBusMaster(log.Config(), log.Regs(fake), igb.Quiesce); err != nil {
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
			t.Errorf("%v: a register written while the NIC could DMA", e)
		}
	}
	for _, st := range []struct {
		what string
		off  igb.Reg
		ok   func(uint32) bool
	}{
		{"EIMC all", igb.EIMC, func(v uint32) bool { return v == ^uint32(0) }},
		{"IMC all", igb.IMC, func(v uint32) bool { return v == ^uint32(0) }},
		{"RCTL.EN cleared", igb.RCTL, func(v uint32) bool { return v&igb.RCTL_EN == 0 }},
		{"TCTL.EN cleared", igb.TCTL, func(v uint32) bool { return v&igb.TCTL_EN == 0 }},
		{"CTRL.RST", igb.CTRL, func(v uint32) bool { return v&igb.CTRL_RST != 0 }},
	} {
		if i := drivertest.FirstWrite(ev, uint32(st.off), st.ok); i < 0 || i > m {
			t.Errorf("%s at event %d, bus master at %d: want it strictly before (%v)", st.what, i, m, ev)
		}
	}
}

// TestQuiesceRefusesUnknownDevice: an ID outside the family is refused
// before any register is written; bus mastering stays off.
func TestQuiesceRefusesUnknownDevice(t *testing.T) {
	fake, err := igbtest.New(e1000test.NewAllocator(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	log := drivertest.NewBusLog(0x8086, 0x100e, pci.CmdMaster) // an e1000
	if err := driver.EnableBusMaster(log.Config(), log.Regs(fake), igb.Quiesce); err == nil {
		t.Fatal("an e1000 was quiesced as an igb")
	}
	for _, e := range log.Events() {
		if !e.Cfg {
			t.Errorf("register written for a device outside the family: %v", e)
		}
	}
	if log.Command()&pci.CmdMaster != 0 {
		t.Error("bus mastering left on after a failed quiesce")
	}
}

// TestStopRX: the forced-exit step clears RX and TX enable.
func TestStopRX(t *testing.T) {
	fake, err := igbtest.New(e1000test.NewAllocator(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.Write32(uint32(igb.RCTL), igb.RCTL_EN)
	fake.Write32(uint32(igb.TCTL), igb.TCTL_EN)
	igb.StopRX(fake)
	if fake.Reg(igb.RCTL)&igb.RCTL_EN != 0 || fake.Reg(igb.TCTL)&igb.TCTL_EN != 0 {
		t.Errorf("RCTL %#x TCTL %#x after StopRX", fake.Reg(igb.RCTL), fake.Reg(igb.TCTL))
	}
}
