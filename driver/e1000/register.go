package e1000

import (
	"github.com/uiodrv/uiodrv/bus"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// The family registers itself with the core, so that whoever imports this
// package can open its models by PCI address (uiodrv.OpenDevice) without
// naming it.
func init() { driver.Register(family()) }

// itrUnit is the unit of ITR and EITR (SDM 13.4.18, 82574 10.2.4.3).
const itrUnit = 256 * time.Nanosecond

// family describes the 8254x/82574L family as it registers itself: its
// models, ring sizes, the options it refuses and an Open taking the core's
// family-neutral options.
func family() *driver.Family {
	ms := make([]driver.Model, 0, len(models))
	for _, e := range models {
		ms = append(ms, driver.Model{
			ID:        driver.PCIID{Vendor: IntelVendor, Device: e.device},
			Name:      e.name,
			MaxQueues: 1, // one RX and one TX queue: no RSS on any model
			MSIX:      e.model.HasMSIX(),
			Verified:  e.model == Model82540EM || e.model == Model82574L, // QEMU's e1000 and e1000e
		})
	}
	return &driver.Family{
		Name:   "e1000",
		Models: ms,
		RingSizes: driver.RingSizes{
			Min: MinRingSize, Max: MaxRingSize, Default: DefaultRingSize, PowerOfTwo: true,
		},
		MaxITR:  0xFFFF * itrUnit, // ITR and EITR: 16 bits of 256 ns
		Check:   check,
		StopDMA: StopRX,
		Open:    driver.OpenWith(Open, openOptions),
	}
}

// check refuses what a model of the family cannot run, beyond the core's
// checks (queues, ring size, interval, MSI-X over UIO).
func check(m driver.Model, o driver.OpenOptions) error {
	if o.MSIX && !m.MSIX {
		return &driver.OptionError{Option: "MSIX", Model: m.Name,
			Reason: "has no MSI-X (of the e1000 family only the 82574L, QEMU's e1000e, has it): leave MSI-X off"}
	}
	return nil // MSI-X over UIO: the registry refuses it (driver.CheckOptions)
}

// openOptions maps the core's options to the family's: one ring size for
// RX and TX, and the interval in ITR's units of 256 ns.
func openOptions(o driver.OpenOptions) OpenOptions {
	nic := Options{RxRingSize: o.RingSize, TxRingSize: o.RingSize, ITR: o.ITRUnits(itrUnit), MSIX: o.MSIX, Promisc: o.Promisc}
	return OpenOptions{Access: bus.AccessOf(o), Poll: o.Poll, NIC: nic}
}
