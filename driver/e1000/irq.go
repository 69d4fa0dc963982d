package e1000

import "strings"

// ReadCause reads and acknowledges the pending interrupt causes (ICR,
// SDM 13.4.17; 82574 10.2.4.1). It allocates nothing and may be called from
// any goroutine.
//
// On the 8254x reading ICR clears it. On the 82574 the read value is also
// written back (write 1 to clear): in MSI-X mode ICR is not cleared by a read,
// and QEMU's e1000e clears it on read only in some configurations. A cause
// that re-fires between the read and the write-back is lost, which is
// harmless when the caller, as it must, processes every returned cause by
// polling the rings and the link state rather than counting interrupts.
//
// In MSI-X mode call it from the VecOther handler only; RXQ0/TXQ0 it returns
// are work for the RX/TX paths (Linux re-posts them through ICS).
func (n *NIC) ReadCause() Cause {
	c := n.rd(ICR)
	if n.w1cICR && c != 0 {
		n.wr(ICR, c)
	}
	return Cause(c)
}

// EnableIRQ unmasks causes (IMS, SDM 13.4.20). In MSI-X mode QEMU's e1000e
// auto-masks a vector's cause when it fires (EIAC), so call EnableIRQ with
// that cause after handling each interrupt; doing so is always safe.
func (n *NIC) EnableIRQ(c Cause) { n.wr(IMS, uint32(c)) }

// DisableIRQ masks causes (IMC, SDM 13.4.21).
func (n *NIC) DisableIRQ(c Cause) { n.wr(IMC, uint32(c)) }

// IRQMask returns the causes currently enabled (IMS read).
func (n *NIC) IRQMask() Cause { return Cause(n.rd(IMS)) }

// TriggerIRQ raises causes by software (ICS, SDM 13.4.19): the interrupt
// fires if the causes are enabled. For tests and to kick a handler.
func (n *NIC) TriggerIRQ(c Cause) { n.wr(ICS, uint32(c)) }

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
