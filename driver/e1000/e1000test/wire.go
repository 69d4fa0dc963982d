package e1000test

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// The fake's wire side: receiving frames into the RX ring and transmitting
// the TX ring's frames, with the statistics registers the NIC keeps for them.

func (d *Device) addStat64(lo e1000.Reg, v uint64) {
	x := uint64(d.r(lo+4))<<32 | uint64(d.r(lo))
	x += v
	d.w(lo, uint32(x))
	d.w(lo+4, uint32(x>>32))
}

// Receive plays the NIC receiving frame: if RX is enabled and a descriptor
// is available (RDH != RDT), it DMAs the frame into the descriptor's buffer
// (truncated to e1000.BufSize), writes back length, DD and EOP, advances
// RDH, counts GPRC/GORC/TPR/TOR and raises RXT0 (RXQ0 in MSI-X mode).
// Without a descriptor it counts RNBC and MPC, raises RXO and returns false.
func (d *Device) Receive(frame []byte) bool {
	return d.ReceiveWith(frame, e1000.RxDesc{
		Length: uint16(min(len(frame), e1000.BufSize)),
		Status: e1000.RXD_STAT_DD | e1000.RXD_STAT_EOP,
	})
}

// ReceiveWith is Receive with the write-back fields taken from wb (Addr is
// ignored), so a test can play a faulty or hostile device: a length larger
// than the buffer, status without DD, any errors.
func (d *Device) ReceiveWith(frame []byte, wb e1000.RxDesc) bool {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	if d.r(intel.RCTL)&intel.RCTL_EN == 0 {
		return false
	}
	n := d.r(e1000.RDLEN(0)) / e1000.DescSize
	head, tail := d.r(e1000.RDH(0)), d.r(e1000.RDT(0))
	if n == 0 || head == tail {
		d.Regs[intel.RNBC/4]++
		d.Regs[intel.MPC/4]++
		d.cause(e1000.ICR_RXO)
		return false
	}
	base := uint64(d.r(e1000.RDBAH(0)))<<32 | uint64(d.r(e1000.RDBAL(0)))
	desc := d.alloc.Mem(base+uint64(head)*e1000.DescSize, e1000.DescSize)
	if desc == nil {
		d.Violation("RX descriptor %d at %#x not in DMA memory", head, base+uint64(head)*e1000.DescSize)
		return false
	}
	var rd e1000.RxDesc
	rd.Decode(desc)
	m := min(len(frame), e1000.BufSize)
	buf := d.alloc.Mem(rd.Addr, e1000.BufSize)
	if buf == nil {
		d.Violation("RX descriptor %d buffer %#x not in DMA memory", head, rd.Addr)
		return false
	}
	copy(buf, frame[:m])
	wb.Addr = rd.Addr
	var tmp [16]byte
	wb.Encode(tmp[:])
	copy(desc[:12], tmp[:12])
	storeStatus(desc, binary.LittleEndian.Uint32(tmp[12:])) // DD last
	d.w(e1000.RDH(0), (head+1)%n)
	d.Regs[intel.GPRC/4]++
	d.Regs[e1000.TPR/4]++
	d.addStat64(intel.GORCL, uint64(m))
	d.addStat64(e1000.TORL, uint64(m))
	if d.model == e1000.Model82574L && d.msix {
		d.cause(e1000.ICR_RXQ0)
	} else {
		d.cause(e1000.ICR_RXT0)
	}
	return true
}

// Transmit plays the NIC sending: it consumes up to max descriptors (all
// when max <= 0) from TDH towards TDT, returns copies of the frames, writes
// DD back where RS is set, advances TDH, counts GPTC/GOTC/TPT/TOT and raises
// TXDW (TXQ0 in MSI-X mode).
func (d *Device) Transmit(max int) [][]byte {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	if d.r(intel.TCTL)&intel.TCTL_EN == 0 {
		return nil
	}
	n := d.r(e1000.TDLEN(0)) / e1000.DescSize
	if n == 0 {
		return nil
	}
	base := uint64(d.r(e1000.TDBAH(0)))<<32 | uint64(d.r(e1000.TDBAL(0)))
	var frames [][]byte
	for head := d.r(e1000.TDH(0)); head != d.r(e1000.TDT(0)) && (max <= 0 || len(frames) < max); head = (head + 1) % n {
		desc := d.alloc.Mem(base+uint64(head)*e1000.DescSize, e1000.DescSize)
		if desc == nil {
			d.Violation("TX descriptor %d not in DMA memory", head)
			return frames
		}
		var td e1000.TxDesc
		td.Decode(desc)
		buf := d.alloc.Mem(td.Addr, int(td.Length))
		if buf == nil {
			d.Violation("TX descriptor %d buffer %#x+%d not in DMA memory", head, td.Addr, td.Length)
			return frames
		}
		if td.Cmd&e1000.TXD_CMD_EOP == 0 || td.Cmd&e1000.TXD_CMD_DEXT != 0 {
			d.Violation("TX descriptor %d: command %#x is not a legacy single-descriptor frame", head, td.Cmd)
		}
		frames = append(frames, append([]byte(nil), buf...))
		if td.Cmd&e1000.TXD_CMD_RS != 0 {
			storeStatus(desc, loadStatus(desc)|uint32(e1000.TXD_STAT_DD)) // status byte (SDM 3.3.3)
		}
		d.w(e1000.TDH(0), (head+1)%n)
		d.Regs[intel.GPTC/4]++
		d.Regs[e1000.TPT/4]++
		d.addStat64(intel.GOTCL, uint64(td.Length))
		d.addStat64(e1000.TOTL, uint64(td.Length))
	}
	if len(frames) > 0 {
		if d.model == e1000.Model82574L && d.msix {
			d.cause(e1000.ICR_TXQ0)
		} else {
			d.cause(e1000.ICR_TXDW)
		}
	}
	return frames
}
