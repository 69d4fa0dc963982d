package virtio

import (
	"errors"
	"fmt"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// ErrNoAccessPlatform is returned for a device that does not offer
// VIRTIO_F_ACCESS_PLATFORM while the driver needs it (under VFIO the device
// must translate the ring and buffer addresses, which are IOVAs, through the
// IOMMU).
var ErrNoAccessPlatform = errors.New("virtio: device does not offer VIRTIO_F_ACCESS_PLATFORM")

// ErrFeatures is returned when the device does not accept the driver's
// features (FEATURES_OK reads back clear, virtio 1.2 3.1.1 step 6).
var ErrFeatures = errors.New("virtio: device refused the negotiated features")

// resetTimeout bounds the wait for device_status to read 0 after a reset.
const resetTimeout = time.Second

// reset writes 0 to device_status and waits until it reads 0: only then has
// the device stopped using the rings (virtio 1.2 4.1.4.3.2).
func (n *NIC) reset() error {
	c := n.tr.Common
	c.Write8(CommonStatus, 0)
	deadline := time.Now().Add(resetTimeout)
	for c.Read8(CommonStatus) != 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("reset: device_status still reads %#x after %v", c.Read8(CommonStatus), resetTimeout)
		}
		time.Sleep(10 * time.Microsecond)
	}
	return nil
}

func (n *NIC) setStatus(bits uint8) {
	c := n.tr.Common
	c.Write8(CommonStatus, c.Read8(CommonStatus)|bits)
}

// deviceFeatures reads the 64 feature bits the driver knows.
func (n *NIC) deviceFeatures() uint64 {
	c := n.tr.Common
	c.Write32(CommonDFSelect, 0)
	lo := c.Read32(CommonDF)
	c.Write32(CommonDFSelect, 1)
	hi := c.Read32(CommonDF)
	return uint64(hi)<<32 | uint64(lo)
}

// negotiate picks the driver's features from what the device offers
// (VERSION_1 and, when required, ACCESS_PLATFORM; MAC, STATUS, MQ with its
// control queue; never mergeable buffers, offloads or event index), writes
// them and checks FEATURES_OK (virtio 1.2 3.1.1 steps 4-6).
func (n *NIC) negotiate() error {
	have := n.deviceFeatures()
	if have&(1<<FVersion1) == 0 {
		return fmt.Errorf("%w: VIRTIO_F_VERSION_1 not offered (a legacy interface): start QEMU's virtio-net-pci with disable-legacy=on", ErrLegacyDevice)
	}
	want := uint64(1) << FVersion1
	if have&(1<<FAccessPlatform) != 0 {
		want |= 1 << FAccessPlatform
	} else if n.opts.RequireAccessPlatform {
		return fmt.Errorf("%w: the device would DMA to guest-physical addresses, not the IOMMU's: start QEMU's virtio-net-pci with iommu_platform=on", ErrNoAccessPlatform)
	}
	if have&(1<<FNetMAC) == 0 {
		return fmt.Errorf("%w: VIRTIO_NET_F_MAC not offered: give the device a MAC address", ErrBadOptions)
	}
	want |= have & (1<<FNetMAC | 1<<FNetStatus)
	n.maxPairs = 1
	if have&(1<<FNetMQ) != 0 && have&(1<<FNetCtrlVQ) != 0 {
		if p := int(n.tr.Device.Read16(NetCfgMaxVQPairs)); p > 1 {
			n.maxPairs = p
		}
	}
	if n.opts.Queues > n.maxPairs {
		// An OptionError too, so that a front end reports it as the usage
		// error it is, naming its own option for the queue count.
		return fmt.Errorf("%w: %w", ErrBadOptions, &driver.OptionError{Option: "Queues", Model: modelName,
			Reason: fmt.Sprintf("offers %d queue pair(s) (its max_virtqueue_pairs), fewer than the %d asked: ask for %d or fewer (QEMU gives N pairs with virtio-net-pci mq=on,vectors=2N+2 on a netdev of N queues)",
				n.maxPairs, n.opts.Queues, n.maxPairs)})
	}
	if n.opts.Queues > 1 {
		want |= 1<<FNetMQ | 1<<FNetCtrlVQ
	}
	c := n.tr.Common
	c.Write32(CommonGFSelect, 0)
	c.Write32(CommonGF, uint32(want))
	c.Write32(CommonGFSelect, 1)
	c.Write32(CommonGF, uint32(want>>32))
	n.setStatus(StatusFeaturesOK)
	if c.Read8(CommonStatus)&StatusFeaturesOK == 0 {
		return fmt.Errorf("%w: features %#x", ErrFeatures, want)
	}
	n.features = want
	return nil
}

// setupQueue tells the device where queue q lives and which MSI-X vector
// it signals (virtio 1.2 4.1.5.1.3), and enables it.
func (n *NIC) setupQueue(q *vq, vector uint16) error {
	c := n.tr.Common
	c.Write16(CommonQSelect, q.index)
	if c.Read16(CommonQEnable) != 0 {
		return fmt.Errorf("queue %d already enabled after reset", q.index)
	}
	c.Write16(CommonQSize, q.size)
	base := q.mem.Addr()
	availOff, usedOff, _, _ := vqLayout(int(q.size))
	for _, r := range []struct {
		lo  uint32
		off int
	}{{CommonQDescLo, 0}, {CommonQAvailLo, availOff}, {CommonQUsedLo, usedOff}} {
		a := base + uint64(r.off)
		c.Write32(r.lo, uint32(a))
		c.Write32(r.lo+4, uint32(a>>32))
	}
	c.Write16(CommonQMSIXVector, vector)
	if got := c.Read16(CommonQMSIXVector); got != vector {
		return fmt.Errorf("queue %d: MSI-X vector %d refused (reads %#x)", q.index, vector, got)
	}
	q.notify = n.tr.Notify
	q.notifyOff = uint32(c.Read16(CommonQNotifyOff)) * n.tr.NotifyOffMultiplier
	c.Write16(CommonQEnable, 1)
	return nil
}

// queueSize reads queue index's maximum size; 0 means it does not exist.
func (n *NIC) queueSize(index uint16) int {
	c := n.tr.Common
	c.Write16(CommonQSelect, index)
	return int(c.Read16(CommonQSize))
}
