package main

import (
	"encoding/binary"
	"github.com/uiodrv/uiodrv/driver/intel"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver/e1000"
)

// TestForcedExitStopsRX: on a UIO run the forced exit clears RCTL.EN and
// TCTL.EN and masks interrupts through BAR0 (here a regular file standing
// for sysfs resource0), not only Bus Master Enable; before this, only the
// bus-master bit was cleared and the NIC kept RX enabled.
func TestForcedExitStopsRX(t *testing.T) {
	s := fakeSysfs(t, []string{"uio_pci_generic"}, "64",
		fakeDev{"0000:00:03.0", "0x8086", e1000ID, netCls, "uio_pci_generic", -1, ""})
	a := bus.MustParseAddr("0000:00:03.0")
	bar := make([]byte, 0x20000)
	binary.LittleEndian.PutUint32(bar[intel.RCTL:], intel.RCTL_EN)
	binary.LittleEndian.PutUint32(bar[intel.TCTL:], intel.TCTL_EN)
	res := filepath.Join(s.DevicePath(a), "resource0")
	if err := os.WriteFile(res, bar, 0o600); err != nil {
		t.Fatal(err)
	}
	cs := &memConfig{}
	cs.b[bus.CfgCommand] = bus.CmdMemory | bus.CmdMaster
	g := &busGuard{}
	g.addConfig(a, bus.NewConfig(cs), nil)
	g.armStopRX(s, a, e1000Model(t))
	msg := g.stopDMA()
	g.close()
	got, err := os.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	rctl := binary.LittleEndian.Uint32(got[intel.RCTL:])
	tctl := binary.LittleEndian.Uint32(got[intel.TCTL:])
	imc := binary.LittleEndian.Uint32(got[intel.IMC:])
	if rctl&intel.RCTL_EN != 0 || tctl&intel.TCTL_EN != 0 || imc != uint32(e1000.CauseAll) {
		t.Errorf("after the forced exit RCTL %#x TCTL %#x IMC %#x: want RX and TX off, every interrupt masked", rctl, tctl, imc)
	}
	if cs.b[bus.CfgCommand]&bus.CmdMaster != 0 {
		t.Error("bus mastering left on")
	}
	if !strings.Contains(msg, "RX and TX off on 0000:00:03.0") {
		t.Errorf("message %q does not say RX was stopped", msg)
	}

	// A BAR that cannot be mapped is reported, and bus mastering still goes off.
	g = &busGuard{}
	cs.b[bus.CfgCommand] = bus.CmdMemory | bus.CmdMaster
	g.addConfig(a, bus.NewConfig(cs), nil)
	os.Remove(res)
	g.armStopRX(s, a, e1000Model(t))
	if msg := g.stopDMA(); !strings.Contains(msg, "RX enable on 0000:00:03.0 left for the next run's reset") || !strings.Contains(msg, "bus mastering off") {
		t.Errorf("message %q", msg)
	}
	g.close()
}

// e1000Model is the registry's 82540EM, as prepare finds it.
func e1000Model(t *testing.T) nicModel {
	t.Helper()
	m, err := lookupNIC(0x8086, 0x100e)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
