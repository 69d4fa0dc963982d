package drivertest

import (
	"errors"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/mmio"
)

// OptionCase is one row of a family's option table: options for a model,
// and the OptionError.Option that driver.CheckOptions must refuse them on,
// "" when it must accept them.
type OptionCase struct {
	Name   string
	Model  driver.Model
	Opts   driver.OpenOptions
	Refuse string
}

// CheckOptions runs every case through driver.CheckOptions for family f: an
// accepted case must get nil, a refused one an *driver.OptionError on the
// named option that is also a driver.ErrBadConfig.
func CheckOptions(t testing.TB, f *driver.Family, cases []OptionCase) {
	t.Helper()
	for _, c := range cases {
		err := driver.CheckOptions(f, c.Model, c.Opts)
		var oe *driver.OptionError
		switch {
		case c.Refuse == "" && err != nil:
			t.Errorf("%s: %v", c.Name, err)
		case c.Refuse != "" && (!errors.As(err, &oe) || oe.Option != c.Refuse || !errors.Is(err, driver.ErrBadConfig)):
			t.Errorf("%s: %v, want an OptionError on %s", c.Name, err, c.Refuse)
		}
	}
}

// CheckQuiesceRefuses shows that quiescer q refuses a function of PCI ID
// vendor:device (one outside its family) before it writes a single register
// of regs (a family's fake register file), and that bus mastering, on when
// it starts, is left off (bus.EnableBusMaster).
func CheckQuiesceRefuses(t testing.TB, q bus.Quiescer, regs mmio.Regs, vendor, device uint16) {
	t.Helper()
	log := NewBusLog(vendor, device, bus.CmdMaster)
	if err := bus.EnableBusMaster(log.Config(), log.Regs(regs), q); err == nil {
		t.Fatalf("PCI ID %04x:%04x was quiesced", vendor, device)
	}
	for _, e := range log.Events() {
		if !e.Cfg {
			t.Errorf("register written for a device outside the family: %v", e)
		}
	}
	if log.Command()&bus.CmdMaster != 0 {
		t.Error("bus mastering left on after a failed quiesce")
	}
}
