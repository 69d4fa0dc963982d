package virtiotest

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/driver/virtio"
)

// common is the common configuration block (virtio 1.2 4.1.4.3). Each
// field answers only at its own offset and width, as QEMU's does; an access
// of another width is a violation.
type common struct{ d *Device }

// width of each field of the common configuration.
var widths = map[uint32]int{
	virtio.CommonDFSelect: 4, virtio.CommonDF: 4, virtio.CommonGFSelect: 4, virtio.CommonGF: 4,
	virtio.CommonMSIXConfig: 2, virtio.CommonNumQueues: 2, virtio.CommonStatus: 1, virtio.CommonCfgGen: 1,
	virtio.CommonQSelect: 2, virtio.CommonQSize: 2, virtio.CommonQMSIXVector: 2, virtio.CommonQEnable: 2,
	virtio.CommonQNotifyOff: 2, virtio.CommonQDescLo: 4, virtio.CommonQDescHi: 4, virtio.CommonQAvailLo: 4,
	virtio.CommonQAvailHi: 4, virtio.CommonQUsedLo: 4, virtio.CommonQUsedHi: 4,
}

func (c common) read(off uint32, w int) uint32 {
	d := c.d
	d.Mu.Lock()
	defer d.Mu.Unlock()
	if widths[off] != w {
		d.Violation("common config: %d-byte read at %#x", w, off)
		return 0
	}
	q := d.sel()
	switch off {
	case virtio.CommonDFSelect:
		return d.dfSel
	case virtio.CommonDF:
		if d.dfSel > 1 {
			return 0
		}
		return uint32(d.opts.Features >> (32 * d.dfSel))
	case virtio.CommonGFSelect:
		return d.gfSel
	case virtio.CommonGF:
		if d.gfSel > 1 {
			return 0
		}
		return uint32(d.driverFeatures >> (32 * d.gfSel))
	case virtio.CommonMSIXConfig:
		return uint32(d.cfgVector)
	case virtio.CommonNumQueues:
		return uint32(len(d.queues))
	case virtio.CommonStatus:
		return uint32(d.status)
	case virtio.CommonQSelect:
		return uint32(d.qsel)
	}
	if q == nil {
		return 0 // a queue the device does not have reads 0 (4.1.4.3.1)
	}
	switch off {
	case virtio.CommonQSize:
		return uint32(q.size)
	case virtio.CommonQMSIXVector:
		return uint32(q.msix)
	case virtio.CommonQEnable:
		return uint32(q.enable)
	case virtio.CommonQNotifyOff:
		return uint32(d.qsel)
	case virtio.CommonQDescLo, virtio.CommonQDescHi:
		return uint32(q.desc >> (8 * (off - virtio.CommonQDescLo)))
	case virtio.CommonQAvailLo, virtio.CommonQAvailHi:
		return uint32(q.avail >> (8 * (off - virtio.CommonQAvailLo)))
	case virtio.CommonQUsedLo, virtio.CommonQUsedHi:
		return uint32(q.used >> (8 * (off - virtio.CommonQUsedLo)))
	}
	return 0
}

func (d *Device) sel() *queue {
	if int(d.qsel) < len(d.queues) {
		return &d.queues[d.qsel]
	}
	return nil
}

func set64(p *uint64, half uint32, v uint32) {
	if half == 0 {
		*p = *p&^0xFFFFFFFF | uint64(v)
	} else {
		*p = *p&0xFFFFFFFF | uint64(v)<<32
	}
}

func (c common) write(off uint32, w int, v uint32) {
	d := c.d
	d.Mu.Lock()
	defer d.Mu.Unlock()
	if widths[off] != w {
		d.Violation("common config: %d-byte write of %#x at %#x", w, v, off)
		return
	}
	d.Record(off, v)
	q := d.sel()
	switch off {
	case virtio.CommonDFSelect:
		d.dfSel = v
	case virtio.CommonGFSelect:
		d.gfSel = v
	case virtio.CommonGF:
		if d.status&virtio.StatusFeaturesOK != 0 {
			d.Violation("driver features written after FEATURES_OK")
		}
		if d.gfSel <= 1 {
			set64(&d.driverFeatures, d.gfSel, v)
		}
	case virtio.CommonMSIXConfig:
		if int(v) < len(d.fds) || v == virtio.MSIXNoVector {
			d.cfgVector = uint16(v)
		} else {
			d.cfgVector = virtio.MSIXNoVector
		}
	case virtio.CommonStatus:
		d.writeStatus(uint8(v))
	case virtio.CommonQSelect:
		d.qsel = uint16(v)
	default:
		if q == nil {
			d.Violation("write of %#x at %#x for queue %d, which does not exist", v, off, d.qsel)
			return
		}
		if q.enable != 0 && off != virtio.CommonQEnable {
			d.Violation("queue %d: field %#x written while the queue is enabled", d.qsel, off)
		}
		switch off {
		case virtio.CommonQSize:
			if v == 0 || v > uint32(q.max) || v&(v-1) != 0 {
				d.Violation("queue %d: size %d (max %d, a power of two)", d.qsel, v, q.max)
			}
			q.size = uint16(v)
		case virtio.CommonQMSIXVector:
			if int(v) < len(d.fds) || v == virtio.MSIXNoVector {
				q.msix = uint16(v)
			} else {
				q.msix = virtio.MSIXNoVector // QEMU refuses a vector it does not have
			}
		case virtio.CommonQEnable:
			if v != 1 {
				d.Violation("queue %d: queue_enable written %d", d.qsel, v)
			}
			q.enable = 1
		case virtio.CommonQDescLo, virtio.CommonQDescHi:
			set64(&q.desc, (off-virtio.CommonQDescLo)/4, v)
		case virtio.CommonQAvailLo, virtio.CommonQAvailHi:
			set64(&q.avail, (off-virtio.CommonQAvailLo)/4, v)
		case virtio.CommonQUsedLo, virtio.CommonQUsedHi:
			set64(&q.used, (off-virtio.CommonQUsedLo)/4, v)
		default:
			d.Violation("write of %#x to read-only %#x", v, off)
		}
	}
}

// writeStatus follows device_status (virtio 1.2 2.1, 3.1.1) (Mu held).
func (d *Device) writeStatus(v uint8) {
	if v == 0 {
		d.reset()
		return
	}
	if v&^d.status&virtio.StatusFeaturesOK != 0 {
		ok := d.driverFeatures&^d.opts.Features == 0 && d.driverFeatures&(1<<virtio.FVersion1) != 0
		if !ok {
			v &^= virtio.StatusFeaturesOK
		}
	}
	if v&virtio.StatusDriverOK != 0 && v&virtio.StatusFeaturesOK == 0 {
		d.Violation("DRIVER_OK without FEATURES_OK")
	}
	d.status = v
}

func (c common) Read8(off uint32) uint8       { return uint8(c.read(off, 1)) }
func (c common) Read16(off uint32) uint16     { return uint16(c.read(off, 2)) }
func (c common) Read32(off uint32) uint32     { return c.read(off, 4) }
func (c common) Write8(off uint32, v uint8)   { c.write(off, 1, uint32(v)) }
func (c common) Write16(off uint32, v uint16) { c.write(off, 2, uint32(v)) }
func (c common) Write32(off uint32, v uint32) { c.write(off, 4, v) }

// notify is the notification area: queue q at 4*q, written its index.
type notify struct{ d *Device }

func (n notify) Write16(off uint32, v uint16) {
	d := n.d
	d.Mu.Lock()
	defer d.Mu.Unlock()
	q := int(off / 4)
	if off%4 != 0 || q >= len(d.queues) || int(v) != q {
		d.Violation("notification of %d at %#x", v, off)
		return
	}
	d.queues[q].notifies++
	if d.status&virtio.StatusDriverOK == 0 {
		d.Violation("queue %d notified before DRIVER_OK", q)
		return
	}
	if d.queues[q].enable == 0 {
		d.Violation("queue %d notified while disabled", q)
		return
	}
	if q == d.ctrlIndex() {
		d.control()
	}
}
func (n notify) Read8(off uint32) uint8       { n.bad(off); return 0 }
func (n notify) Read16(off uint32) uint16     { n.bad(off); return 0 }
func (n notify) Read32(off uint32) uint32     { n.bad(off); return 0 }
func (n notify) Write8(off uint32, v uint8)   { n.bad(off) }
func (n notify) Write32(off uint32, v uint32) { n.bad(off) }
func (n notify) bad(off uint32) {
	n.d.Mu.Lock()
	defer n.d.Mu.Unlock()
	n.d.Violation("notification area: access at %#x other than a 16-bit write", off)
}

// devcfg is the virtio-net configuration (5.1.4): MAC, status, pairs.
type devcfg struct{ d *Device }

func (c devcfg) bytes() (b [12]byte) {
	copy(b[:], DefaultMAC)
	if c.d.linkUp {
		binary.LittleEndian.PutUint16(b[virtio.NetCfgStatus:], virtio.NetSLinkUp)
	}
	binary.LittleEndian.PutUint16(b[virtio.NetCfgMaxVQPairs:], uint16(c.d.opts.Pairs))
	return b
}

func (c devcfg) Read8(off uint32) uint8 {
	c.d.Mu.Lock()
	defer c.d.Mu.Unlock()
	b := c.bytes()
	return b[off]
}
func (c devcfg) Read16(off uint32) uint16 {
	c.d.Mu.Lock()
	defer c.d.Mu.Unlock()
	b := c.bytes()
	return binary.LittleEndian.Uint16(b[off:])
}
func (c devcfg) Read32(off uint32) uint32 {
	c.d.Mu.Lock()
	defer c.d.Mu.Unlock()
	b := c.bytes()
	return binary.LittleEndian.Uint32(b[off:])
}
func (c devcfg) Write8(off uint32, v uint8)   { c.bad(off) }
func (c devcfg) Write16(off uint32, v uint16) { c.bad(off) }
func (c devcfg) Write32(off uint32, v uint32) { c.bad(off) }
func (c devcfg) bad(off uint32) {
	c.d.Mu.Lock()
	defer c.d.Mu.Unlock()
	c.d.Violation("device config: write at %#x (read-only without CTRL_MAC_ADDR)", off)
}
