package igb_test

import (
	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver/intel"
	"testing"

	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/igb/igbtest"
)

// TestQuiesceBeforeBusMaster: an 82576 left receiving by a killed run is
// masked, its RX and TX disabled and its MAC reset while Bus Master Enable
// is off; bus mastering comes on only after. With bus mastering enabled
// before the quiesce (OpenBus's old order), the test fails.
func TestQuiesceBeforeBusMaster(t *testing.T) {
	fake, err := igbtest.New(drivertest.NewMemAllocator(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.Write32(uint32(intel.RCTL), intel.RCTL_EN)
	log := drivertest.NewBusLog(0x8086, 0x10c9, bus.CmdMemory|bus.CmdMaster)
	if err := bus.EnableBusMaster(log.Config(), log.Regs(fake), igb.Quiesce); err != nil {
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
		{"IMC all", intel.IMC, func(v uint32) bool { return v == ^uint32(0) }},
		{"RCTL.EN cleared", intel.RCTL, func(v uint32) bool { return v&intel.RCTL_EN == 0 }},
		{"TCTL.EN cleared", intel.TCTL, func(v uint32) bool { return v&intel.TCTL_EN == 0 }},
		{"CTRL.RST", intel.CTRL, func(v uint32) bool { return v&intel.CTRL_RST != 0 }},
	} {
		if i := drivertest.FirstWrite(ev, uint32(st.off), st.ok); i < 0 || i > m {
			t.Errorf("%s at event %d, bus master at %d: want it strictly before (%v)", st.what, i, m, ev)
		}
	}
}

// TestQuiesceRefusesUnknownDevice: an ID outside the family (an e1000) is
// refused before any register is written; bus mastering stays off.
func TestQuiesceRefusesUnknownDevice(t *testing.T) {
	fake, err := igbtest.New(drivertest.NewMemAllocator(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	drivertest.CheckQuiesceRefuses(t, igb.Quiesce, fake, 0x8086, 0x100e)
}

// TestStopRX: the forced-exit step clears RX and TX enable.
func TestStopRX(t *testing.T) {
	fake, err := igbtest.New(drivertest.NewMemAllocator(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.Write32(uint32(intel.RCTL), intel.RCTL_EN)
	fake.Write32(uint32(intel.TCTL), intel.TCTL_EN)
	igb.StopRX(fake)
	if fake.Reg(intel.RCTL)&intel.RCTL_EN != 0 || fake.Reg(intel.TCTL)&intel.TCTL_EN != 0 {
		t.Errorf("RCTL %#x TCTL %#x after StopRX", fake.Reg(intel.RCTL), fake.Reg(intel.TCTL))
	}
}
