package virtio

import (
	"github.com/uiodrv/uiodrv/driver"
)

// The family registers itself with the core, so that whoever imports this
// package can open virtio-net by PCI address without naming it.
func init() { driver.Register(family()) }

// MaxQueues is the most queue pairs the family offers a model before the
// device is opened; the device's own max_virtqueue_pairs (VIRTIO_NET_F_MQ)
// is checked at open, before DRIVER_OK.
const MaxQueues = 8

// modelName is the registered model's name, which refusals repeat.
const modelName = "virtio-net (modern)"

func family() *driver.Family {
	return &driver.Family{
		Name: "virtio",
		Models: []driver.Model{{
			ID:        driver.PCIID{Vendor: VendorRedHat, Device: DeviceNetModern},
			Name:      modelName,
			MaxQueues: MaxQueues,
			MSIX:      true,
		}},
		// Descriptors per virtqueue, capped at open at the device's
		// queue size (QEMU's: 256); each frame takes two.
		RingSizes: driver.RingSizes{Min: 8, Max: 32768, Default: DefaultRingSize, PowerOfTwo: true},
		Check:     check,
		Open: func(bdf string, _ driver.Model, o driver.OpenOptions) (driver.Device, error) {
			d, err := Open(bdf, OpenOptions{
				NIC:       Options{Queues: o.Queues, RingSize: o.RingSize},
				Hugepages: o.Hugepages,
				VFIOAPI:   o.VFIOAPI,
				Poll:      o.Poll,
			})
			if err != nil {
				return nil, err
			}
			return d, nil
		},
	}
}

// check refuses what virtio-net cannot run, beyond the core's queue and
// ring-size checks.
func check(m driver.Model, o driver.OpenOptions) error {
	switch {
	case o.Backend != driver.BackendVFIO:
		return &driver.OptionError{Option: "Backend", Model: m.Name,
			Reason: "is driven through VFIO only (its DMA goes through the IOMMU, VIRTIO_F_ACCESS_PLATFORM, and its interrupts are MSI-X): use the vfio backend"}
	case o.ITR != 0:
		return &driver.OptionError{Option: "ITR", Model: m.Name,
			Reason: "has no interrupt throttling register (virtio suppresses interrupts per queue instead): leave the interval 0"}
	case o.Promisc:
		return &driver.OptionError{Option: "Promisc", Model: m.Name,
			Reason: "sets promiscuous mode through the control queue (VIRTIO_NET_CTRL_RX), which this driver does not send: leave it off (QEMU's virtio-net accepts every frame from its netdev)"}
	}
	return nil
}
