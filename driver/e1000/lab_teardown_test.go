package e1000_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver/e1000"
)

// busMasterProbe reads Bus Master Enable of a real device through the sysfs
// config file, a path independent of the backend's own config access (the
// VFIO config region or uio's config file descriptor), before Close, at each
// step of Close, and after it.
type busMasterProbe struct {
	tag    string
	cfg    *bus.Config
	before bool
	steps  []string
	during map[string]bool // Bus Master Enable as each step started
	errs   []error
}

// probeBusMaster installs the probe on dev; call check after Close.
func probeBusMaster(t *testing.T, tag, bdf string, dev *e1000.Device) *busMasterProbe {
	t.Helper()
	a, err := bus.ParseAddr(bdf)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := bus.Sysfs{}.OpenConfig(a)
	if err != nil {
		t.Fatalf("%s: %v", tag, err)
	}
	p := &busMasterProbe{tag: tag, cfg: cfg, during: map[string]bool{}}
	p.before = p.read()
	e1000.SetTeardownHook(dev, func(step string) {
		p.steps = append(p.steps, step)
		p.during[step] = p.read()
	})
	return p
}

func (p *busMasterProbe) read() bool {
	cmd, err := p.cfg.Command()
	if err != nil {
		p.errs = append(p.errs, err)
	}
	return cmd&bus.CmdMaster != 0
}

// check: bus mastering was on while the port ran, still on when Close began,
// off before the reset and before any memory was released, and off after.
func (p *busMasterProbe) check(t *testing.T) {
	t.Helper()
	after := p.read()
	p.cfg.Close()
	bit := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	fmt.Printf("LAB BUSMASTER %s: running %d, at close %d, before reset %d, before release %d, after close %d; steps %v\n",
		p.tag, bit(p.before), bit(p.during["irq"]), bit(p.during["reset"]), bit(p.during["release"]), bit(after), p.steps)
	want := []string{"irq", "vectors", "busmaster", "reset", "release"}
	switch {
	case len(p.errs) > 0:
		t.Errorf("%s: read command register: %v", p.tag, p.errs)
	case !slices.Equal(p.steps, want):
		t.Errorf("%s: teardown steps %v, want %v", p.tag, p.steps, want)
	case !p.before || !p.during["irq"]:
		t.Errorf("%s: bus mastering off before Close (running %v, at close %v): the probe reads the wrong bit", p.tag, p.before, p.during["irq"])
	case p.during["reset"] || p.during["release"] || after:
		t.Errorf("%s: Bus Master Enable still set: before reset %v, before release %v, after close %v",
			p.tag, p.during["reset"], p.during["release"], after)
	}
}
