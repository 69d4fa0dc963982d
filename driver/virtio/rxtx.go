package virtio

import "github.com/uiodrv/uiodrv/driver"

// RxBurst hands over up to len(out) frames the device put in queue q's used
// ring (driver.NIC). The device wrote the virtio-net header into the
// slot's header descriptor and the frame from offset 0 of the buffer: the
// used length counts both (virtio 1.2 2.7.8), so the frame is that less
// NetHdrSize.
func (n *NIC) RxBurst(q int, out []driver.RxDesc) int {
	r := n.rx[q]
	if !r.g.enter() {
		return 0
	}
	defer r.g.exit()
	idx := r.usedIdx()
	k := 0
	var bytes uint64
	for k < len(out) {
		b, l, ok := r.next(idx)
		if !ok {
			break
		}
		d := driver.RxDesc{Buf: b}
		switch {
		case l < NetHdrSize:
			d.Errors = 1 // no room even for the header: a device bug
		case l-NetHdrSize > driver.BufSize:
			d.Len, d.Errors = driver.BufSize, 1
		default:
			d.Len = uint16(l - NetHdrSize)
		}
		if d.Errors != 0 {
			n.rxStats[q].errors.Add(1)
		}
		bytes += uint64(d.Len)
		out[k] = d
		k++
	}
	if k > 0 {
		n.rxStats[q].packets.Add(uint64(k))
		n.rxStats[q].bytes.Add(bytes)
	}
	r.done()
	return k
}

// Refill posts free pool buffers to queue q's free slots and notifies the
// device once for all of them (driver.NIC).
func (n *NIC) Refill(q int) int {
	r := n.rx[q]
	if !r.g.enter() {
		return 0
	}
	defer r.g.exit()
	return n.fill(q, true)
}

func (n *NIC) fill(q int, notify bool) int {
	r := n.rx[q]
	k := 0
	for r.freeN > 0 {
		b, ok := n.pool.Get()
		if !ok {
			break
		}
		r.post(b, n.pool.Addr(b), driver.BufSize)
		k++
	}
	if k > 0 {
		if notify {
			r.publish()
		} else {
			setAvailIdx(r.avail, r.availIdx)
		}
	}
	return k
}

// TxBurst queues frames on queue q behind a zeroed virtio-net header (no
// checksum or segmentation offload was negotiated, so every field is 0,
// 5.1.6.2) and notifies the device once (driver.NIC). It stops at the first
// frame that is empty, longer than a buffer, or does not fit.
func (n *NIC) TxBurst(q int, pkts []driver.TxDesc) int {
	t := n.tx[q]
	if !t.g.enter() {
		return 0
	}
	defer t.g.exit()
	nbufs := uint32(n.pool.Len())
	k := 0
	var bytes uint64
	for _, p := range pkts {
		if p.Len == 0 || int(p.Len) > driver.BufSize || p.Buf >= nbufs {
			break
		}
		if !t.post(p.Buf, n.pool.Addr(p.Buf), uint32(p.Len)) {
			break
		}
		bytes += uint64(p.Len)
		k++
	}
	if k > 0 {
		t.publish()
		n.txStats[q].packets.Add(uint64(k))
		n.txStats[q].bytes.Add(bytes)
	}
	return k
}

// Reclaim returns the buffers of frames the device has sent from queue q to
// the pool (driver.NIC).
func (n *NIC) Reclaim(q int) int {
	t := n.tx[q]
	if !t.g.enter() {
		return 0
	}
	defer t.g.exit()
	idx := t.usedIdx()
	var scratch [64]uint32
	k, total := 0, 0
	for {
		b, _, ok := t.next(idx)
		if !ok {
			break
		}
		scratch[k] = b
		if k++; k == len(scratch) {
			n.pool.PutMany(scratch[:k])
			total += k
			k = 0
		}
	}
	if k > 0 {
		n.pool.PutMany(scratch[:k])
		total += k
	}
	t.done()
	return total
}
