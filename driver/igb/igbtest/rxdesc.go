package igbtest

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// ReceiveDesc plays a faulty or hostile NIC writing the next RX descriptor
// of queue 0 as given: data is copied into the posted buffer (at most its
// size), and the write-back carries length and status as they are, even a
// length above the buffer or a status without EOP (a frame spread over
// several descriptors). It returns false when no descriptor is posted.
func (d *Device) ReceiveDesc(data []byte, length uint16, status uint32) bool {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	n := d.r(igb.RDLEN(0)) / igb.DescSize
	head, tail := d.r(igb.RDH(0)), d.r(igb.RDT(0))
	if d.r(intel.RCTL)&intel.RCTL_EN == 0 || n == 0 || head == tail || tail >= n {
		return false
	}
	bsize := int(d.r(igb.SRRCTL(0))&0x7F) << igb.SRRCTL_BSIZEPKT_SHIFT
	base := uint64(d.r(igb.RDBAH(0)))<<32 | uint64(d.r(igb.RDBAL(0)))
	desc := d.alloc.Mem(base+uint64(head)*igb.DescSize, igb.DescSize)
	if desc == nil {
		return false
	}
	data = data[:min(len(data), bsize)]
	if buf := d.alloc.Mem(binary.LittleEndian.Uint64(desc[0:]), len(data)); buf != nil {
		copy(buf, data)
	}
	binary.LittleEndian.PutUint64(desc[0:], 0)
	binary.LittleEndian.PutUint32(desc[12:], uint32(length))
	store32(desc, 8, status) // DD last
	d.w(igb.RDH(0), (head+1)%n)
	return true
}
