package e1000

import (
	"strings"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// readCause reads and acknowledges the pending interrupt causes (ICR,
// SDM 13.4.17; 82574 10.2.4.1). It allocates nothing.
//
// On the 8254x reading ICR clears it. On the 82574 the read value is also
// written back (write 1 to clear): in MSI-X mode ICR is not cleared by a read,
// and QEMU's e1000e clears it on read only in some configurations. A cause
// that re-fires between the read and the write-back is lost, which is
// harmless since the core processes every returned cause by polling the
// rings and the link state rather than counting interrupts.
func (n *NIC) readCause() Cause {
	c := n.rd(intel.ICR)
	if n.w1cICR && c != 0 {
		n.wr(intel.ICR, c)
	}
	return Cause(c)
}

// AckIRQ reads ICR (acknowledging it) on the INTx vector and the MSI-X
// "other" vector (driver.NIC). An MSI-X RX or TX vector signals its cause by
// itself and costs no register access here: QEMU's e1000e auto-masks RXQ0 as
// it sends the message (EIAC with CTRL_EXT.IAME clear), and the vector's
// Unmask re-arms it (setVectors), so that a NAPI poll that wants it masked
// anyway pays one IMS write per interrupt instead of IMS, IMC and IMS.
func (n *NIC) AckIRQ(vec int) driver.Causes {
	if n.opts.MSIX {
		switch vec {
		case VecRX:
			n.irqMu.Lock()
			n.rxAutoMasked = true
			n.irqMu.Unlock()
			return driver.CauseRX
		case VecTX:
			return driver.CauseTX
		}
		c := n.fromCause(n.readCause())
		n.wr(intel.IMS, uint32(n.causes.Other))
		return c | driver.CauseLink
	}
	return n.fromCause(n.readCause())
}

// rearmRX is the MSI-X RX vector's Unmask: it unmasks RXQ0 (one IMS write)
// unless software wants RX interrupts off (NAPI polling): then it stays
// masked, which costs nothing.
func (n *NIC) rearmRX() error {
	n.irqMu.Lock()
	defer n.irqMu.Unlock()
	if n.rxOn {
		n.rxAutoMasked = false
		n.wr(intel.IMS, uint32(n.causes.RX))
	}
	return nil
}

func (n *NIC) fromCause(c Cause) driver.Causes {
	var r driver.Causes
	if c&n.causes.RX != 0 {
		r |= driver.CauseRX
	}
	if c&n.causes.TX != 0 {
		r |= driver.CauseTX
	}
	if c&n.causes.Other != 0 {
		r |= driver.CauseLink
	}
	return r
}

// toCause maps core causes to the NIC's for IMS/IMC. CauseTX maps to
// nothing: TX completions raise no interrupt (an interrupt only to reclaim
// what the bottom half reclaims on its next run anyway would be a wake-up
// and a trap per burst), and TX descriptors carry RS on a few descriptors
// only.
func (n *NIC) toCause(c driver.Causes) Cause {
	var r Cause
	if c&driver.CauseRX != 0 {
		r |= n.causes.RX
	}
	if c&driver.CauseLink != 0 {
		r |= n.causes.Other
	}
	return r
}

// SetIRQ unmasks causes c through IMS (SDM 13.4.20) or masks them through
// IMC (SDM 13.4.21), one write each (the e1000 has no per-vector mask
// register), and neither where it is not needed: TX completions never
// interrupt (toCause), and an MSI-X RX cause the NIC auto-masked as it fired
// is not masked again (driver.NIC).
func (n *NIC) SetIRQ(_ int, c driver.Causes, on bool) {
	n.irqMu.Lock()
	defer n.irqMu.Unlock()
	r := n.toCause(c)
	if on {
		if c&driver.CauseRX != 0 {
			n.rxOn, n.rxAutoMasked = true, false
		}
		if r != 0 {
			n.irqOn.Or(uint32(r))
			n.wr(intel.IMS, uint32(r))
		}
		return
	}
	if c&driver.CauseRX != 0 {
		n.rxOn = false
	}
	n.irqOn.And(^uint32(r))
	if r == 0 || (r == n.causes.RX && n.rxAutoMasked) {
		return
	}
	n.wr(intel.IMC, uint32(r))
}

// Trigger raises the RX cause through ICS (SDM 13.4.19): the interrupt
// fires if the cause is enabled (driver.NIC).
func (n *NIC) Trigger(int) { n.wr(intel.ICS, uint32(n.causes.RX)) }

// String lists the cause names, e.g. "LSC|RXT0", or "0".
func (c Cause) String() string {
	if c == 0 {
		return "0"
	}
	var b strings.Builder
	rest := c
	for _, e := range causeNames {
		if c&e.c != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(e.name)
			rest &^= e.c
		}
	}
	if rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString("0x")
		const hex = "0123456789abcdef"
		var buf [8]byte
		i := len(buf)
		for v := uint32(rest); v != 0; v >>= 4 {
			i--
			buf[i] = hex[v&0xF]
		}
		b.Write(buf[i:])
	}
	return b.String()
}
