package igb

import "github.com/uiodrv/uiodrv/driver"

// Interrupts run in MSI-X mode with one vector per queue (82576 7.3.1.2 and
// 7.3.2): vector q takes the RX and TX causes of queue q through IVAR0,
// vector Queues the "other" causes (link status change) through IVAR_MISC.
// Each vector is one bit of EICR/EIMS/EIMC/EICS/EIAC/EIAM.
//
// Per interrupt: EIAC clears the vector's EICR bit as the message is sent
// and, with GPIE.EIAME, EIAM masks the vector in EIMS (7.3.4). AckIRQ
// re-arms it with one EIMS write, the only register access of a queue
// interrupt. A cause that arrives while the vector is masked stays in EICR
// and fires once it is unmasked, so no wake-up is lost.

// otherVector is the vector index of the link and other causes.
func (n *NIC) otherVector() int { return n.opts.Queues }

func (n *NIC) vectorCauses(v int) driver.Causes {
	if v == n.otherVector() {
		return driver.CauseLink
	}
	return driver.CauseRX | driver.CauseTX
}

// setupIRQ routes queues and other causes to vectors and enables them all.
func (n *NIC) setupIRQ() {
	n.wr(GPIE, GPIE_MSIX_MODE|GPIE_EIAME|GPIE_PBA|GPIE_NSICR)
	ivar := make([]uint32, 8)
	for q := 0; q < n.opts.Queues; q++ {
		reg, shift := n.model.ivarEntry(q)
		v := uint32(q) | IVAR_VALID
		ivar[reg] |= v<<shift | v<<(shift+8) // RX, then TX one byte up
	}
	for i, v := range ivar {
		n.wr(IVAR(i), v)
	}
	n.wr(IVAR_MISC, (uint32(n.otherVector())|IVAR_VALID)<<8)
	queues := uint32(1)<<n.opts.Queues - 1
	all := queues | 1<<n.otherVector()
	for v := 0; v <= n.otherVector(); v++ {
		n.wr(EITR(v), n.opts.ITR<<2)
	}
	// Queue vectors auto-clear and auto-mask; the other vector's causes are
	// read from ICR (cleared on read with NSICR) and it is re-armed by hand.
	n.wr(EIAC, queues)
	n.wr(EIAM, queues)
	for v := range n.on {
		n.on[v].Store(uint32(n.vectorCauses(v)))
	}
	n.wr(IMS, ICR_LSC)
	n.wr(EIMS, all)
}

// AckIRQ acknowledges an interrupt on vector vec (driver.NIC). A queue
// vector reports its queue's RX and TX causes (the ring says which) and is
// re-armed if software has not masked it; the other vector reads ICR.
func (n *NIC) AckIRQ(vec int) driver.Causes {
	on := driver.Causes(n.on[vec].Load())
	if vec != n.otherVector() {
		if on != 0 {
			n.wr(EIMS, 1<<vec)
		}
		return driver.CauseRX | driver.CauseTX
	}
	var c driver.Causes
	if n.rd(ICR)&ICR_LSC != 0 {
		c |= driver.CauseLink
	}
	if on != 0 {
		n.wr(EIMS, 1<<vec)
	}
	return c
}

// SetIRQ enables or masks causes c on vector vec (driver.NIC) with one EIMS
// or EIMC write: the vector is the unit of masking, so a queue vector stays
// armed while either of its RX and TX causes is on.
func (n *NIC) SetIRQ(vec int, c driver.Causes, on bool) {
	c &= n.vectorCauses(vec)
	if c == 0 {
		return
	}
	for {
		old := n.on[vec].Load()
		nw := old | uint32(c)
		if !on {
			nw = old &^ uint32(c)
		}
		if n.on[vec].CompareAndSwap(old, nw) {
			if nw != 0 {
				n.wr(EIMS, 1<<vec)
			} else {
				n.wr(EIMC, 1<<vec)
			}
			return
		}
	}
}

// Trigger raises vector vec from software through EICS (driver.NIC).
func (n *NIC) Trigger(vec int) { n.wr(EICS, 1<<vec) }
