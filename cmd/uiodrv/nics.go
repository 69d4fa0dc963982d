package main

import (
	"errors"
	"fmt"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/igb"
)

// The run command picks the driver from the device's PCI ID in sysfs,
// before the device is opened, so that every option can be checked against
// the model first.

// nicFamily is the driver package that drives a model.
type nicFamily uint8

const (
	familyE1000 nicFamily = iota + 1 // driver/e1000: 8254x, 82574L
	familyIGB                        // driver/igb: 82576, I350, I210/I211
)

func (f nicFamily) String() string {
	switch f {
	case familyE1000:
		return "e1000"
	case familyIGB:
		return "igb"
	}
	return "unknown"
}

// nicModel is a model uiodrv drives.
type nicModel struct {
	family    nicFamily
	name      string
	maxQueues int  // RX/TX queue pairs the driver can run on it
	msix      bool // has MSI-X (the igb family always uses it)
	verified  bool // driven in the lab, not only written from a datasheet
}

func (m nicModel) String() string { return m.name }

// lookupNIC finds the model of a PCI ID among the drivers'. An unknown ID
// gives an error wrapping e1000.ErrUnsupportedDevice (whose hint lists every
// supported ID).
func lookupNIC(vendor, device uint16) (nicModel, error) {
	if m, err := e1000.LookupModel(vendor, device); err == nil {
		return nicModel{family: familyE1000, name: m.String(), maxQueues: 1, msix: m == e1000.Model82574L, verified: true}, nil
	}
	if m, err := igb.LookupModel(vendor, device); err == nil {
		return nicModel{family: familyIGB, name: m.Name, maxQueues: m.MaxQueues, msix: true, verified: m.Verified}, nil
	}
	return nicModel{}, fmt.Errorf("%w: PCI ID %04x:%04x", e1000.ErrUnsupportedDevice, vendor, device)
}

// checkQueues refuses a queue count the model cannot run: above its queues,
// or several (RSS) on a single-queue NIC.
func checkQueues(addr string, m nicModel, queues int) error {
	switch {
	case queues <= 1:
		return nil
	case m.maxQueues == 1:
		return usagef("--queues %d: %s is an %s, a single-queue NIC, so RSS cannot spread flows over queues: use --queues 1 (or an igb-family NIC: 82576, I350, I210)",
			queues, addr, m)
	case queues > m.maxQueues:
		return usagef("--queues %d: %s is an %s, which has %d queues: use --queues %d or fewer", queues, addr, m, m.maxQueues, m.maxQueues)
	}
	return nil
}

// openedNIC is an opened device as the run command holds it.
type openedNIC interface {
	driver.Opened
	Close() error
}

var (
	_ openedNIC = (*e1000.Device)(nil)
	_ openedNIC = (*igb.Device)(nil)
)

// errUnknownFamily: openDevice was asked for a device prepare never looked up.
var errUnknownFamily = errors.New("device model not looked up")
