package bus

import (
	"errors"
	"fmt"

	"github.com/uiodrv/uiodrv/pci"
)

// MapBAR maps BAR index (0..5) of the device and returns its memory. A
// family whose registers are not (only) in BAR0 uses it: virtio-pci's
// capabilities name the BAR and offset of each register block. The mapping
// is owned by the backend device and unmapped by Close; mapping a BAR twice
// returns the same memory.
func (bus *Bus) MapBAR(index int) ([]byte, error) {
	var (
		m   []byte
		err error
	)
	switch {
	case bus.vdev != nil:
		m, err = bus.vdev.MapBAR(index)
	case bus.udev != nil:
		m, err = bus.udev.MapBAR(index)
	default:
		return nil, errors.New("bus closed")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: map BAR %d: %w", bus.BDF, index, err)
	}
	return m, nil
}

// Config is the device's PCI configuration space (the VFIO config region or
// the sysfs config file), owned by the bus: a family reads its capability
// list there.
func (bus *Bus) Config() *pci.Config { return bus.cfg }
