package igb

import (
	"github.com/uiodrv/uiodrv/bus"
	"sort"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// The family registers itself with the core, so that whoever imports this
// package can open its models by PCI address (uiodrv.OpenDevice) without
// naming it.
func init() { driver.Register(family()) }

// eitrUnit is the unit of EITR's interval as Options.ITR counts it
// (82576 8.8.14).
const eitrUnit = time.Microsecond

// maxEITR is the largest interval Options.ITR takes, in eitrUnit.
const maxEITR = 0x3FFF

// family describes the igb family as it registers itself: its models (every
// PCI ID in deviceIDs), ring sizes, the options it refuses and an Open
// taking the core's family-neutral options.
func family() *driver.Family {
	ids := make([]uint16, 0, len(deviceIDs))
	for id := range deviceIDs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	ms := make([]driver.Model, 0, len(ids))
	for _, id := range ids {
		m := deviceIDs[id]
		ms = append(ms, driver.Model{
			ID:        driver.PCIID{Vendor: VendorIntel, Device: id},
			Name:      m.Name,
			MaxQueues: m.MaxQueues,
			MSIX:      true, // every model; the driver only uses MSI-X
			Verified:  m.Verified,
		})
	}
	return &driver.Family{
		Name:   "igb",
		Models: ms,
		RingSizes: driver.RingSizes{
			Min: 8, Max: 4096, Default: DefaultRingSize, Multiple: 8,
		},
		MaxITR:   maxEITR * eitrUnit, // EITR's interval field
		MSIXOnly: true,               // Open attaches MSI-X vectors or none: UIO polls
		StopDMA:  StopRX,
		Open:     driver.OpenWith(Open, openOptions),
	}
}

// openOptions maps the core's options to the family's: one ring size for
// RX and TX, and the interval in EITR's units of 1 µs. MSIX needs no
// mapping: the family always uses MSI-X when it takes interrupts.
func openOptions(o driver.OpenOptions) OpenOptions {
	nic := Options{Queues: o.Queues, RxRingSize: o.RingSize, TxRingSize: o.RingSize, ITR: o.ITRUnits(eitrUnit), Promisc: o.Promisc}
	return OpenOptions{Access: bus.AccessOf(o), Poll: o.Poll, NIC: nic}
}
