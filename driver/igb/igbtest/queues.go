package igbtest

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// writeQueue checks and applies a write to a per-queue register.
func (d *Device) writeQueue(reg igb.Reg, pq qreg, v uint32) {
	q := pq.q
	switch pq.kind {
	case kRDT:
		n := d.r(igb.RDLEN(q)) / igb.DescSize
		enabled := d.r(igb.RXDCTL(q))&igb.RXDCTL_QUEUE_ENABLE != 0
		switch {
		case n != 0 && v >= n:
			d.Violation("RDT(%d) %d outside its ring of %d", q, v, n)
		case v != 0 && !enabled:
			d.Violation("RDT(%d) written %d before RXDCTL(%d).ENABLE", q, v, q)
		case enabled && d.r(intel.RCTL)&intel.RCTL_EN != 0 && v == d.r(igb.RDH(q)) && v != d.r(reg):
			d.Violation("RDT(%d) written equal to RDH (%d): the NIC reads that as an empty ring", q, v)
		}
	case kTDT:
		n := d.r(igb.TDLEN(q)) / igb.DescSize
		if n != 0 && v >= n {
			d.Violation("TDT(%d) %d outside its ring of %d", q, v, n)
		} else if v != 0 && d.r(igb.TXDCTL(q))&igb.TXDCTL_QUEUE_ENABLE == 0 {
			d.Violation("TDT(%d) written %d before TXDCTL(%d).ENABLE", q, v, q)
		}
	case kRXDCTL:
		if v&igb.RXDCTL_QUEUE_ENABLE != 0 && d.r(igb.RDLEN(q)) == 0 {
			d.Violation("RXDCTL(%d) enabled without a ring (RDLEN 0)", q)
		}
	case kTXDCTL:
		if v&igb.TXDCTL_QUEUE_ENABLE != 0 && d.r(igb.TDLEN(q)) == 0 {
			d.Violation("TXDCTL(%d) enabled without a ring (TDLEN 0)", q)
		}
	case kRDLEN, kTDLEN:
		if v%128 != 0 {
			d.Violation("ring length %d of queue %d not a multiple of 128", v, q)
		}
	}
	d.w(reg, v)
}

// rss returns the programmed RSS, or nil when MRQC does not enable it.
// QEMU's igb spreads only with MRQC's RSS mode and RXCSUM.PCSD both set.
func (d *Device) rss() *driver.RSS {
	mrqc := d.r(igb.MRQC)
	if mrqc&3 != igb.MRQC_ENABLE_RSS_MQ || d.r(igb.RXCSUM)&igb.RXCSUM_PCSD == 0 {
		return nil
	}
	if mrqc&igb.MRQC_RSS_FIELD_IPV4_UDP == 0 {
		d.Violation("MRQC %#x enables RSS without hashing UDP ports", mrqc)
	}
	var r driver.RSS
	for i := 0; i < len(r.Key)/4; i++ {
		binary.LittleEndian.PutUint32(r.Key[4*i:], d.r(igb.RSSRK(i)))
	}
	for i := 0; i < len(r.RETA)/4; i++ {
		binary.LittleEndian.PutUint32(r.RETA[4*i:], d.r(igb.RETA(i)))
	}
	for i := range r.RETA {
		r.RETA[i] &= 0x0F
	}
	return &r
}

// Receive plays the NIC receiving frame: RSS picks the queue; if that queue
// is enabled and has a posted descriptor, the frame is written into its
// buffer with an advanced write-back (length, RSS hash, DD|EOP), RDH
// advances, GPRC/GORC count it and the queue's RX vector fires. Without a
// descriptor it counts RNBC (and RQDPC with SRRCTL.DROP_EN) and returns
// false.
func (d *Device) Receive(frame []byte) bool {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	if d.r(intel.RCTL)&intel.RCTL_EN == 0 || d.r(intel.STATUS)&intel.STATUS_LU == 0 {
		return false
	}
	q, hash := 0, uint32(0)
	if r := d.rss(); r != nil {
		q = r.Queue(frame)
		hash, _ = r.Hash(frame)
	}
	n := d.r(igb.RDLEN(q)) / igb.DescSize
	head, tail := d.r(igb.RDH(q)), d.r(igb.RDT(q))
	if d.r(igb.RXDCTL(q))&igb.RXDCTL_QUEUE_ENABLE == 0 || n == 0 || head == tail || tail >= n {
		d.Regs[intel.RNBC/4]++
		if d.r(igb.SRRCTL(q))&igb.SRRCTL_DROP_EN != 0 {
			d.Regs[igb.RQDPC(q)/4]++
		}
		return false
	}
	srrctl := d.r(igb.SRRCTL(q))
	bsize := int(srrctl&0x7F) << igb.SRRCTL_BSIZEPKT_SHIFT
	if srrctl&(7<<25) != igb.SRRCTL_DESCTYPE_ADV_ONEBUF {
		d.Violation("SRRCTL(%d) %#x: not advanced one-buffer descriptors", q, srrctl)
	}
	if bsize < len(frame) {
		d.Violation("SRRCTL(%d) buffer size %d below a %d-byte frame", q, bsize, len(frame))
		return false
	}
	base := uint64(d.r(igb.RDBAH(q)))<<32 | uint64(d.r(igb.RDBAL(q)))
	desc := d.alloc.Mem(base+uint64(head)*igb.DescSize, igb.DescSize)
	if desc == nil {
		d.Violation("RX descriptor %d of queue %d not in DMA memory", head, q)
		return false
	}
	addr := binary.LittleEndian.Uint64(desc[0:])
	buf := d.alloc.Mem(addr, len(frame))
	if buf == nil {
		d.Violation("RX descriptor %d of queue %d: buffer %#x not in DMA memory", head, q, addr)
		return false
	}
	copy(buf, frame)
	binary.LittleEndian.PutUint64(desc[0:], 0)
	binary.LittleEndian.PutUint32(desc[4:], hash)
	binary.LittleEndian.PutUint32(desc[12:], uint32(len(frame)))
	store32(desc, 8, igb.RXD_STAT_DD|igb.RXD_STAT_EOP) // DD last
	d.w(igb.RDH(q), (head+1)%n)
	d.Regs[intel.GPRC/4]++
	d.add64(intel.GORCL, uint64(len(frame)))
	d.raise(d.queueVector(q, false))
	return true
}

func (d *Device) add64(lo igb.Reg, v uint64) {
	x := uint64(d.r(lo+4))<<32 | uint64(d.r(lo)) + v
	d.w(lo, uint32(x))
	d.w(lo+4, uint32(x>>32))
}

// Transmit plays the NIC sending everything queued on every enabled queue,
// queue by queue: it returns copies of the frames, writes DD back where RS
// is set, advances TDH, counts GPTC/GOTC and fires each queue's TX vector.
func (d *Device) Transmit() [][]byte {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	if d.r(intel.TCTL)&intel.TCTL_EN == 0 {
		return nil
	}
	var frames [][]byte
	for q := 0; q < nqueues; q++ {
		n := d.r(igb.TDLEN(q)) / igb.DescSize
		if n == 0 || d.r(igb.TXDCTL(q))&igb.TXDCTL_QUEUE_ENABLE == 0 {
			continue
		}
		base := uint64(d.r(igb.TDBAH(q)))<<32 | uint64(d.r(igb.TDBAL(q)))
		sent := 0
		for head := d.r(igb.TDH(q)); head != d.r(igb.TDT(q)); head = (head + 1) % n {
			desc := d.alloc.Mem(base+uint64(head)*igb.DescSize, igb.DescSize)
			if desc == nil {
				d.Violation("TX descriptor %d of queue %d not in DMA memory", head, q)
				return frames
			}
			cmd := binary.LittleEndian.Uint32(desc[8:])
			want := igb.ADVTXD_DTYP_DATA | igb.ADVTXD_DCMD_DEXT | igb.ADVTXD_DCMD_EOP
			if cmd&want != want {
				d.Violation("TX descriptor %d of queue %d: command %#x is not a one-descriptor advanced data frame", head, q, cmd)
			}
			length := int(cmd & 0xFFFF)
			if ol := load32(desc, 12); int(ol>>igb.ADVTXD_PAYLEN_SHIFT) != length {
				d.Violation("TX descriptor %d of queue %d: PAYLEN %d, length %d", head, q, ol>>igb.ADVTXD_PAYLEN_SHIFT, length)
			}
			addr := binary.LittleEndian.Uint64(desc[0:])
			buf := d.alloc.Mem(addr, length)
			if buf == nil {
				d.Violation("TX descriptor %d of queue %d: buffer %#x+%d not in DMA memory", head, q, addr, length)
				return frames
			}
			frames = append(frames, append([]byte(nil), buf...))
			if cmd&igb.ADVTXD_DCMD_RS != 0 {
				store32(desc, 12, load32(desc, 12)|igb.TXD_STAT_DD)
			}
			d.w(igb.TDH(q), (head+1)%n)
			d.Regs[intel.GPTC/4]++
			d.add64(intel.GOTCL, uint64(length))
			sent++
		}
		if sent > 0 {
			d.raise(d.queueVector(q, true))
		}
	}
	return frames
}

// SetLink sets STATUS.LU and raises LSC.
func (d *Device) SetLink(up bool) {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	if up {
		d.w(intel.STATUS, intel.STATUS_LU|intel.STATUS_FD|intel.STATUS_SPEED_1000)
	} else {
		d.w(intel.STATUS, 0)
	}
	d.cause(igb.ICR_LSC)
}
