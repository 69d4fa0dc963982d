package virtiotest

import (
	"fmt"
	"net"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/virtio"
)

// DefaultMAC is the fake's station address, QEMU's default.
var DefaultMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

// Features are what a QEMU 7.2 virtio-net-pci with disable-legacy=on,
// iommu_platform=on,mq=on offers that the driver knows of.
const Features = 1<<virtio.FVersion1 | 1<<virtio.FAccessPlatform | 1<<virtio.FNetMAC |
	1<<virtio.FNetStatus | 1<<virtio.FNetCtrlVQ | 1<<virtio.FNetMQ | 1<<virtio.FNetMrgRxBuf | 1<<virtio.FRingEventIdx

// Options configure New; the zero value is QEMU's defaults with one pair.
type Options struct {
	// Features offered; 0 means Features.
	Features uint64
	// Pairs is max_virtqueue_pairs; 0 means 1.
	Pairs int
	// QueueSize is every queue's maximum size; 0 means 256, QEMU's.
	QueueSize int
	// Vectors is how many MSI-X vectors the bus attached (eventfds).
	Vectors int
}

type queue struct {
	max, size   uint16
	msix        uint16
	enable      uint16
	desc, avail uint64
	used        uint64
	lastAvail   uint16
	usedIdx     uint16
	notifies    int
}

// Device is the fake. Its register blocks are reached through Transport.
type Device struct {
	drivertest.RegFile[uint32]
	alloc *drivertest.MemAllocator
	opts  Options

	status         uint8
	dfSel, gfSel   uint32
	driverFeatures uint64
	cfgVector      uint16
	qsel           uint16
	queues         []queue
	pairs          int // active pairs (VQ_PAIRS_SET)
	linkUp         bool
	rss            *driver.RSS
	fds            []int
	fires          []int
}

// New makes a fake virtio-net device over alloc's memory.
func New(alloc *drivertest.MemAllocator, o Options) (*Device, error) {
	if o.Features == 0 {
		o.Features = Features
	}
	if o.Pairs == 0 {
		o.Pairs = 1
	}
	if o.QueueSize == 0 {
		o.QueueSize = 256
	}
	d := &Device{RegFile: drivertest.NewRegFile[uint32]("virtiotest", 64), alloc: alloc, opts: o, linkUp: true,
		queues: make([]queue, 2*o.Pairs+1)}
	for i := 0; i < o.Vectors; i++ {
		fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("virtiotest: eventfd: %w", err)
		}
		d.fds = append(d.fds, fd)
	}
	d.fires = make([]int, o.Vectors)
	d.reset()
	return d, nil
}

// Close closes the vectors' eventfds.
func (d *Device) Close() {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	for _, fd := range d.fds {
		unix.Close(fd)
	}
	d.fds = nil
}

// Vectors describes the MSI-X vectors as the bus attaches them: one per
// queue pair and the last for configuration changes.
func (d *Device) Vectors() []driver.Vector {
	vs := make([]driver.Vector, len(d.fds))
	for i, fd := range d.fds {
		vs[i] = driver.Vector{Name: fmt.Sprintf("q%d", i), Fd: fd, Causes: driver.CauseRX | driver.CauseTX}
	}
	if len(vs) > 0 {
		vs[len(vs)-1].Name, vs[len(vs)-1].Causes = "config", driver.CauseLink
	}
	return vs
}

// Transport is the device's register blocks as the driver reaches them;
// queue q's notification address is 4*q.
func (d *Device) Transport() *virtio.Transport {
	return &virtio.Transport{Common: common{d}, Notify: notify{d}, NotifyOffMultiplier: 4, Device: devcfg{d}}
}

// Status is device_status.
func (d *Device) Status() uint8 {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	return d.status
}

// Notifies is how often queue q was notified.
func (d *Device) Notifies(q int) int {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	return d.queues[q].notifies
}

// Fires is how many messages vector v sent.
func (d *Device) Fires(v int) int {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	return d.fires[v]
}

// SetLink sets the link bit of the status field.
func (d *Device) SetLink(up bool) {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	d.linkUp = up
}

// reset is a device reset (status 0): every queue forgotten (Mu held).
func (d *Device) reset() {
	d.status, d.driverFeatures, d.dfSel, d.gfSel, d.qsel = 0, 0, 0, 0, 0
	d.cfgVector = virtio.MSIXNoVector
	for i := range d.queues {
		d.queues[i] = queue{max: uint16(d.opts.QueueSize), size: uint16(d.opts.QueueSize), msix: virtio.MSIXNoVector}
	}
	d.pairs = 1
	d.rss = nil
	d.NoteReset()
}

func (d *Device) ctrlIndex() int { return 2 * d.opts.Pairs }
