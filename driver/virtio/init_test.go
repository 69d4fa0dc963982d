package virtio_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/virtio"
	"github.com/uiodrv/uiodrv/driver/virtio/virtiotest"
)

// Refusals come before DRIVER_OK, leave the device reset with no queue
// enabled, and free what they allocated (the cleanup checks the regions).
func TestOpenRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		fo   virtiotest.Options
		o    virtio.Options
		want error
		says string
	}{
		{"legacy", virtiotest.Options{Features: virtiotest.Features &^ (1 << virtio.FVersion1)}, virtio.Options{}, virtio.ErrLegacyDevice, "disable-legacy=on"},
		{"no-access-platform", virtiotest.Options{Features: virtiotest.Features &^ (1 << virtio.FAccessPlatform)}, virtio.Options{}, virtio.ErrNoAccessPlatform, "iommu_platform=on"},
		{"too-many-queues", virtiotest.Options{Pairs: 1, Vectors: 3}, virtio.Options{Queues: 2}, virtio.ErrBadOptions, "offers 1 queue pair"},
		{"no-mq", virtiotest.Options{Pairs: 4, Vectors: 3, Features: virtiotest.Features &^ (1 << virtio.FNetMQ)}, virtio.Options{Queues: 2}, virtio.ErrBadOptions, "offers 1 queue pair"},
		{"queue-too-small", virtiotest.Options{QueueSize: 4}, virtio.Options{RingSize: 64}, virtio.ErrBadOptions, "holds 4 descriptors"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := newFake(t, c.fo, c.o)
			if f.nic != nil {
				f.nic = nil
				t.Fatalf("New accepted it")
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("New: %v, want %v saying %q", err, c.want, c.says)
			}
			if s := f.dev.Status(); s&virtio.StatusDriverOK != 0 || s != 0 {
				t.Errorf("device_status %#x after the refusal, want 0", s)
			}
		})
	}
}

// Close resets the device before the rings are freed, and the fake saw the
// reset at open and at close.
func TestCloseResets(t *testing.T) {
	f := mustFake(t, virtiotest.Options{}, virtio.Options{})
	if s := f.dev.Status(); s != virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK|virtio.StatusDriverOK {
		t.Fatalf("device_status %#x after New", s)
	}
	before := f.dev.Resets()
	f.nic.Close()
	if f.dev.Resets() != before+1 || f.dev.Status() != 0 {
		t.Fatalf("Close: %d resets (was %d), status %#x", f.dev.Resets(), before, f.dev.Status())
	}
}

// Link comes from the STATUS field.
func TestLinkFromStatus(t *testing.T) {
	f := mustFake(t, virtiotest.Options{}, virtio.Options{})
	var s driver.NICStats
	f.nic.ReadStats(&s)
	if !s.Link {
		t.Fatal("link down with VIRTIO_NET_S_LINK_UP set")
	}
	f.dev.SetLink(false)
	f.nic.ReadStats(&s)
	if s.Link {
		t.Fatal("link up with VIRTIO_NET_S_LINK_UP clear")
	}
}

// The avail index is the doorbell's content: a burst of frames notifies
// the device once, and the device sends every frame intact.
func TestOneNotifyPerBurst(t *testing.T) {
	f := mustFake(t, virtiotest.Options{}, virtio.Options{})
	before := f.dev.Notifies(1)
	var tx [8]driver.TxDesc
	for i := range tx {
		b, _ := f.pool.Get()
		copy(f.pool.Packet(b, 60), bytes.Repeat([]byte{byte(i)}, 60))
		tx[i] = driver.TxDesc{Buf: b, Len: 60}
	}
	if n := f.nic.TxBurst(0, tx[:]); n != len(tx) {
		t.Fatalf("TxBurst took %d of %d", n, len(tx))
	}
	if got := f.dev.Notifies(1) - before; got != 1 {
		t.Fatalf("%d notifications for one burst, want 1", got)
	}
	frames := f.dev.Transmit()
	if len(frames) != len(tx) || !bytes.Equal(frames[3], bytes.Repeat([]byte{3}, 60)) {
		t.Fatalf("device sent %d frames, want %d intact", len(frames), len(tx))
	}
	if n := f.nic.Reclaim(0); n != len(tx) {
		t.Fatalf("Reclaim returned %d, want %d", n, len(tx))
	}
}

// configSpace is a PCI config space in memory.
type configSpace []byte

func (c configSpace) ReadAt(p []byte, off int64) (int, error)  { return copy(p, c[off:]), nil }
func (c configSpace) WriteAt(p []byte, off int64) (int, error) { return copy(c[off:], p), nil }

// vendorCap writes a virtio_pci_cap at p pointing to next.
func vendorCap(c configSpace, p, next int, typ, bar uint8, off uint32) {
	c[p], c[p+1], c[p+2], c[p+3], c[p+4] = virtio.CapVendor, byte(next), 20, typ, bar
	binary.LittleEndian.PutUint32(c[p+8:], off)
	binary.LittleEndian.PutUint32(c[p+12:], 0x1000)
}

// The capabilities are found by walking the list as QEMU lays it out
// (MSI-X first, then virtio's, in BAR 4); without them the device is
// refused as legacy.
func TestFindCaps(t *testing.T) {
	c := make(configSpace, 256)
	binary.LittleEndian.PutUint16(c[bus.CfgStatus:], bus.StatusCapList)
	c[bus.CfgCapPtr] = 0x98
	c[0x98], c[0x99] = 0x11, 0x84 // MSI-X
	vendorCap(c, 0x84, 0x70, virtio.CapNotifyCfg, 4, 0x3000)
	vendorCap(c, 0x70, 0x60, virtio.CapDeviceCfg, 4, 0x2000)
	vendorCap(c, 0x60, 0x50, virtio.CapISRCfg, 4, 0x1000)
	vendorCap(c, 0x50, 0x40, virtio.CapCommonCfg, 4, 0x0000)
	vendorCap(c, 0x40, 0x00, virtio.CapCommonCfg, 2, 0x8000) // a second one: the first counts
	caps, err := virtio.FindCaps(bus.NewConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint8][2]uint32{virtio.CapCommonCfg: {4, 0}, virtio.CapNotifyCfg: {4, 0x3000}, virtio.CapISRCfg: {4, 0x1000}, virtio.CapDeviceCfg: {4, 0x2000}}
	for k, v := range want {
		if caps[k] != v {
			t.Errorf("capability %d: BAR/offset %v, want %v", k, caps[k], v)
		}
	}
	c[0x99] = 0 // MSI-X only: what a legacy device has
	if _, err := virtio.FindCaps(bus.NewConfig(c)); !errors.Is(err, virtio.ErrLegacyDevice) {
		t.Fatalf("without virtio capabilities: %v, want ErrLegacyDevice", err)
	}
}
