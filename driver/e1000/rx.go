package e1000

import "encoding/binary"

// RxBurst harvests up to len(out) completed frames: descriptors from the
// oldest posted one onwards, stopping at the first without DD (SDM 3.2.3.1).
// Each frame's descriptor is copied into out and cleared; its buffer now
// belongs to the caller (give it back with FreeBuf, or transmit it). The
// emptied slots are refilled by RefillRx. It returns the number of frames
// and allocates nothing.
//
// Descriptors come from the device and are untrusted: a length above BufSize
// is clamped to BufSize and flagged with RXD_ERR_RXE, and the buffer index
// is the driver's own record, never read from the descriptor.
//
// A frame never spans descriptors with 2 KiB buffers and long packets off
// (RCTL.LPE clear, SDM 3.2.3), but a faulty or hostile device may write one
// that does. Its first descriptor is returned without RXD_STAT_EOP: the
// caller must drop it. Its later descriptors, up to and including the one
// with EOP, are never returned: RxBurst frees their buffers itself, in this
// call or the following ones.
func (n *NIC) RxBurst(out []RxPacket) int {
	k := 0
	for k < len(out) && n.rxClean != n.rxTail {
		i := n.rxClean
		d := n.rxDescs[i*DescSize : i*DescSize+DescSize : i*DescSize+DescSize]
		// Status, errors and special in one acquire load; only after DD
		// is seen are length and checksum read (see load32).
		w := load32(d, descStatus)
		status := uint8(w)
		if status&RXD_STAT_DD == 0 {
			break
		}
		if n.rxInFrame {
			// The rest of a frame whose first descriptor was returned
			// without EOP: free the buffer here.
			if status&RXD_STAT_EOP != 0 {
				n.rxInFrame = false
			}
			n.pool.Put(n.rxBufs[i])
			clear(d)
			n.rxBufs[i] = noBuf
			n.rxClean = (i + 1) & n.rxMask
			continue
		}
		n.rxInFrame = status&RXD_STAT_EOP == 0
		errs := uint8(w >> 8)
		length := binary.LittleEndian.Uint16(d[descLen:])
		if length > BufSize {
			length = BufSize
			errs |= RXD_ERR_RXE
		}
		out[k] = RxPacket{
			Buf:     n.rxBufs[i],
			Len:     length,
			Csum:    binary.LittleEndian.Uint16(d[rxdCsum:]),
			Status:  status,
			Errors:  errs,
			Special: uint16(w >> 16),
		}
		// Clear the descriptor so a stale DD is never mistaken for a new
		// frame after the ring wraps; RefillRx writes the new address.
		clear(d)
		n.rxBufs[i] = noBuf
		n.rxClean = (i + 1) & n.rxMask
		k++
	}
	return k
}

// RxPending reports whether the next descriptor is done, i.e. RxBurst would
// return at least one frame. It reads DMA memory only (no register access).
func (n *NIC) RxPending() bool {
	if n.rxClean == n.rxTail {
		return false
	}
	i := n.rxClean * DescSize
	return uint8(load32(n.rxDescs[i:i+DescSize], descStatus))&RXD_STAT_DD != 0
}

// RxFreeThresh is how many posted RX buffers RefillRx lets wait before it
// writes RDT (DPDK's rx_free_thresh); rings of fewer than 128 descriptors
// use a quarter of the ring.
const RxFreeThresh = 32

func rxFreeThresh(ring int) uint32 { return uint32(min(RxFreeThresh, ring/4)) }

// RefillRx posts free buffers from the pool to every empty RX slot it can
// and returns how many it posted (fewer than the empty slots when the pool
// runs low). It allocates nothing.
//
// Posting is a store to DMA memory; telling the NIC is an RDT write, a trap
// into QEMU or an uncached PCIe round trip. So RDT is written only once
// rxFreeThresh posted buffers are waiting for it (DPDK's rx_free_thresh),
// and at once when the NIC may be nearly out of buffers: when the
// descriptors it can see, [rxClean, rxRDT), are rxFreeThresh or fewer. That
// count is an upper bound on what the NIC still has free (some may be done
// and not yet harvested), so a ring that runs dry, or a starved one being
// refilled after the pool ran empty, is always told at once. See
// FlushRx.
//
// Invariant: at most RxRingSize-1 buffers are posted, so the tail written
// never equals the NIC's head: RDH == RDT means "no free descriptors" to the
// NIC (SDM 3.2.6), and the head can only be inside the posted range
// [rxClean, rxTail], which the new tail stays clear of.
func (n *NIC) RefillRx() int {
	posted := (n.rxTail - n.rxClean) & n.rxMask
	empty := n.rxMask - posted // ring size - 1 - posted
	got := 0
	if empty > 0 {
		got = n.pool.GetMany(n.rxFill[:empty])
	}
	t := n.rxTail
	for _, b := range n.rxFill[:got] {
		d := n.rxDescs[t*DescSize : t*DescSize+DescSize : t*DescSize+DescSize]
		// Address, then zero length/checksum/status/errors/special: DD
		// must read 0 until the NIC writes this descriptor back.
		binary.LittleEndian.PutUint64(d[descAddr:], n.pool.addr(b))
		binary.LittleEndian.PutUint64(d[descLen:], 0)
		n.rxBufs[t] = b
		t = (t + 1) & n.rxMask
	}
	n.rxTail = t
	waiting := (n.rxTail - n.rxRDT) & n.rxMask
	visible := (n.rxRDT - n.rxClean) & n.rxMask
	if waiting > 0 && (waiting >= n.rxFreeThresh || visible <= n.rxFreeThresh) {
		n.writeRDT()
	}
	return got
}

// FlushRx tells the NIC about every posted buffer it has not been told of
// (one RDT write, none when there is nothing new). RefillRx defers the write
// while the NIC has plenty; call FlushRx where a caller wants the NIC to see
// the whole ring, e.g. before it stops polling.
func (n *NIC) FlushRx() {
	if n.rxTail != n.rxRDT {
		n.writeRDT()
	}
}

// writeRDT hands the posted descriptors [rxRDT, rxTail) to the NIC.
//
// Ordering: the descriptor stores must reach memory before the NIC sees the
// new tail. x86 (TSO) makes stores visible in program order, also to a
// device and also relative to the uncached MMIO store; and the Go compiler
// does not move the stores past the tail write, which is a call through the
// mmio.Regs interface into a noinline store (mmio.BAR.Write32). No fence is
// needed on amd64.
func (n *NIC) writeRDT() {
	n.rxRDT = n.rxTail
	n.wr(RDT(0), n.rxTail)
}

// RxWaiting is how many posted buffers wait for the RDT write (FlushRx).
func (n *NIC) RxWaiting() int { return int((n.rxTail - n.rxRDT) & n.rxMask) }
