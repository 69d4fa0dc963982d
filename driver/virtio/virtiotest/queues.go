package virtiotest

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/virtio"
)

// desc is one descriptor as the device reads it.
type desc struct {
	addr  uint64
	n     uint32
	flags uint16
	next  uint16
}

func (d *Device) desc(q *queue, i uint16) desc {
	b := d.alloc.Mem(q.desc+uint64(virtio.DescSize)*uint64(i), virtio.DescSize)
	return desc{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint32(b[8:]),
		binary.LittleEndian.Uint16(b[12:]), binary.LittleEndian.Uint16(b[14:])}
}

// nextChain takes the next avail chain of queue qi: its head and
// descriptors, or ok false when the driver made none available (Mu held).
func (d *Device) nextChain(qi int, out []desc) (head uint16, chain []desc, ok bool) {
	q := &d.queues[qi]
	if d.status&virtio.StatusDriverOK == 0 || q.enable == 0 {
		return 0, nil, false
	}
	availHead := d.alloc.Mem(q.avail, 4)
	if uint16(load32(availHead)>>16) == q.lastAvail {
		return 0, nil, false
	}
	head = binary.LittleEndian.Uint16(d.alloc.Mem(q.avail+4+2*uint64(q.lastAvail%q.size), 2))
	q.lastAvail++
	chain = out[:0]
	i := head
	for {
		if i >= q.size || len(chain) == cap(out) {
			d.Violation("queue %d: chain from %d runs to descriptor %d", qi, head, i)
			return head, chain, true
		}
		c := d.desc(q, i)
		chain = append(chain, c)
		if c.flags&virtio.DescFNext == 0 {
			return head, chain, true
		}
		i = c.next
	}
}

// putUsed fills queue qi's next used entry and signals its vector unless
// the driver suppressed interrupts (Mu held).
func (d *Device) putUsed(qi int, head uint16, n uint32) {
	q := &d.queues[qi]
	e := d.alloc.Mem(q.used+4+virtio.UsedElemSize*uint64(q.usedIdx%q.size), virtio.UsedElemSize)
	binary.LittleEndian.PutUint32(e, uint32(head))
	binary.LittleEndian.PutUint32(e[4:], n)
	q.usedIdx++
	store32(d.alloc.Mem(q.used, 4), uint32(q.usedIdx)<<16)
	flags := uint16(load32(d.alloc.Mem(q.avail, 4)))
	if flags&virtio.AvailFNoIntr == 0 && int(q.msix) < len(d.fds) {
		var one = [8]byte{1}
		_, _ = unix.Write(d.fds[q.msix], one[:])
		d.fires[q.msix]++
	}
}

// Receive plays the device receiving frame: the queue pair its flow hashes
// to takes its next avail RX chain and gets the header (zero but
// num_buffers 1) and the frame written over it. False: no chain was
// available, or the device is not running.
func (d *Device) Receive(frame []byte) bool {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	pair := 0
	if d.rss != nil {
		pair = d.rss.Queue(frame) % d.pairs
	}
	var buf [8]desc
	head, chain, ok := d.nextChain(2*pair, buf[:])
	if !ok {
		return false
	}
	var hdr [virtio.NetHdrSize]byte
	hdr[10] = 1 // num_buffers
	src := append(hdr[:], frame...)
	written := uint32(0)
	for _, c := range chain {
		if c.flags&virtio.DescFWrite == 0 {
			d.Violation("RX queue %d: descriptor not device-writable", 2*pair)
			break
		}
		k := min(int(c.n), len(src))
		copy(d.alloc.Mem(c.addr, k), src[:k])
		src = src[k:]
		written += uint32(k)
	}
	if len(src) > 0 {
		d.Violation("RX queue %d: chain of %d bytes too short for a %d-byte frame", 2*pair, written, len(frame))
	}
	d.putUsed(2*pair, head, written)
	return true
}

// Transmit plays the device sending every avail TX chain, in order per
// queue, and returns the frames without their virtio-net header.
func (d *Device) Transmit() [][]byte {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	var out [][]byte
	var buf [8]desc
	for p := 0; p < d.opts.Pairs; p++ {
		for {
			head, chain, ok := d.nextChain(2*p+1, buf[:])
			if !ok {
				break
			}
			var b []byte
			for _, c := range chain {
				if c.flags&virtio.DescFWrite != 0 {
					d.Violation("TX queue %d: device-writable descriptor", 2*p+1)
				}
				b = append(b, d.alloc.Mem(c.addr, int(c.n))...)
			}
			if len(b) < virtio.NetHdrSize {
				d.Violation("TX queue %d: chain of %d bytes has no header", 2*p+1, len(b))
			} else {
				for i, x := range b[:virtio.NetHdrSize] {
					if x != 0 {
						d.Violation("TX queue %d: header byte %d is %#x, not 0", 2*p+1, i, x)
						break
					}
				}
				out = append(out, b[virtio.NetHdrSize:])
			}
			d.putUsed(2*p+1, head, 0)
		}
	}
	return out
}

// control runs the commands on the control queue: only
// VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET is known (Mu held).
func (d *Device) control() {
	qi := d.ctrlIndex()
	var buf [8]desc
	for {
		head, chain, ok := d.nextChain(qi, buf[:])
		if !ok {
			return
		}
		ack := uint8(1) // VIRTIO_NET_ERR
		if len(chain) == 3 && chain[0].n == 2 && chain[1].n == 2 && chain[2].flags&virtio.DescFWrite != 0 {
			h := d.alloc.Mem(chain[0].addr, 2)
			pairs := int(binary.LittleEndian.Uint16(d.alloc.Mem(chain[1].addr, 2)))
			if h[0] == virtio.CtrlClassMQ && h[1] == virtio.CtrlMQVQPairsSet && pairs >= 1 && pairs <= d.opts.Pairs &&
				d.driverFeatures&(1<<virtio.FNetMQ) != 0 {
				d.pairs = pairs
				d.rss = nil
				if pairs > 1 {
					d.rss, _ = driver.NewRSS(pairs)
				}
				ack = virtio.CtrlOK
			}
			d.alloc.Mem(chain[2].addr, 1)[0] = ack
		} else {
			d.Violation("control queue: malformed command of %d descriptors", len(chain))
		}
		d.putUsed(qi, head, 1)
	}
}
