package igb

import (
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// Interrupts run in MSI-X mode with one vector per queue (82576 7.3.1.2 and
// 7.3.2): vector q takes the RX cause of queue q through IVAR0, vector
// Queues the "other" causes (link status change) through IVAR_MISC. TX
// completions are routed nowhere (IVAR's TX entry not valid) and so raise no
// interrupt: the core reclaims TX on its queue's next poll, and an interrupt
// only for that would be a wake-up per burst.
// Each vector is one bit of EICR/EIMS/EIMC/EICS/EIAC/EIAM.
//
// Per interrupt: EIAC clears the vector's EICR bit as the message is sent
// (82576 7.3.4), so a queue interrupt costs no register access at all.
// Vectors are not auto-masked (GPIE.EIAME off, EIAM 0): the core masks a
// vector explicitly (SetIRQ, one EIMC write) when it wants to poll. A cause
// that arrives while a vector is masked stays in EICR and fires once the
// vector is unmasked, so no wake-up is lost.

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
	n.wr(GPIE, GPIE_MSIX_MODE|GPIE_PBA|GPIE_NSICR)
	ivar := make([]uint32, 8)
	for q := 0; q < n.opts.Queues; q++ {
		reg, shift := n.model.ivarEntry(q)
		v := uint32(q) | IVAR_VALID
		ivar[reg] |= v << shift // RX; TX, one byte up, stays invalid
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
	// Every vector auto-clears its EICR bit as its message is sent (as
	// Linux igb_irq_enable). Without that the other vector's EICR bit would
	// stay set, and QEMU, which signals only newly raised EICR bits, would
	// never fire it again. EIAM stays 0 (reset value): QEMU 10 turns any
	// EIAM write into "all ones" (igb_set_eiam) though it never uses EIAM.
	n.wr(EIAC, all)
	for v := range n.on {
		n.on[v].Store(uint32(n.vectorCauses(v)))
	}
	n.wr(intel.IMS, ICR_LSC)
	n.wr(EIMS, all)
}

// AckIRQ acknowledges an interrupt on vector vec (driver.NIC). A queue
// vector reports its queue's RX and TX causes (the rings say which) without
// touching a register: EIAC already cleared its cause and nothing masked
// it. The other vector reads ICR, which clears it (GPIE.NSICR).
func (n *NIC) AckIRQ(vec int) driver.Causes {
	if vec != n.otherVector() {
		return driver.CauseRX | driver.CauseTX
	}
	if n.rd(intel.ICR)&ICR_LSC != 0 {
		return driver.CauseLink
	}
	return 0
}

// armed says whether vector vec is unmasked when software enabled causes on.
func (n *NIC) armed(vec int, on driver.Causes) bool {
	if vec == n.otherVector() {
		return on&driver.CauseLink != 0
	}
	return on&driver.CauseRX != 0
}

// SetIRQ enables or masks causes c on vector vec (driver.NIC) with one EIMS
// or EIMC write, and none when the vector's armed state does not change.
// The vector is the unit of masking: a queue vector is armed while its RX
// cause is on (TX completions raise no interrupt, see setupIRQ, so enabling
// or masking TX alone writes nothing). QEMU's igb has no auto-mask (it
// ignores EIAM), so a NAPI cycle costs an EIMC and an EIMS write.
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
			was, now := n.armed(vec, driver.Causes(old)), n.armed(vec, driver.Causes(nw))
			if was == now {
				return
			}
			if now {
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
