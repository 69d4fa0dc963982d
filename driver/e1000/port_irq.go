package e1000

import "github.com/uiodrv/uiodrv/driver"

// The Device's interrupt control: the core's causes mapped onto the e1000's,
// the acknowledge on each vector, and the masks (kept apart from the data
// path in port.go).

// Kick raises the RX cause through ICS (SDM 13.4.19).
func (d *Device) Kick() { d.nic.TriggerIRQ(d.causes.RX) }

// AckIRQ reads ICR (acknowledging it) on the INTx vector and the MSI-X
// "other" vector. An MSI-X RX or TX vector signals its cause by itself and
// costs no register access here: QEMU's e1000e auto-masks RXQ0 as it sends
// the message (EIAC with CTRL_EXT.IAME clear), and the vector's Unmask
// re-arms it (setRearm), so that a NAPI poll that wants it masked anyway
// pays one IMS write per interrupt instead of IMS, IMC and IMS.
func (d *Device) AckIRQ(vec int) driver.Causes {
	if d.msix {
		switch vec {
		case VecRX:
			d.irqMu.Lock()
			d.rxAutoMasked = true
			d.irqMu.Unlock()
			return driver.CauseRX
		case VecTX:
			return driver.CauseTX
		}
		c := d.fromCause(d.nic.ReadCause())
		d.nic.EnableIRQ(d.causes.Other)
		return c | driver.CauseLink
	}
	return d.fromCause(d.nic.ReadCause())
}

func (d *Device) fromCause(c Cause) driver.Causes {
	var r driver.Causes
	if c&d.causes.RX != 0 {
		r |= driver.CauseRX
	}
	if c&d.causes.TX != 0 {
		r |= driver.CauseTX
	}
	if c&d.causes.Other != 0 {
		r |= driver.CauseLink
	}
	return r
}

// toCause maps core causes to the NIC's for IMS/IMC. CauseTX maps to
// nothing: TX completions raise no interrupt (an interrupt only to reclaim
// what the bottom half reclaims on its next run anyway would be a wake-up
// and a trap per burst), and TX descriptors carry RS on a few descriptors
// only (TxBurst).
func (d *Device) toCause(c driver.Causes) Cause {
	var r Cause
	if c&driver.CauseRX != 0 {
		r |= d.causes.RX
	}
	if c&driver.CauseLink != 0 {
		r |= d.causes.Other
	}
	return r
}

// EnableIRQ unmasks causes c (one IMS write; none for CauseTX alone, see
// toCause).
func (d *Device) EnableIRQ(c driver.Causes) {
	d.irqMu.Lock()
	defer d.irqMu.Unlock()
	if c&driver.CauseRX != 0 {
		d.rxOn, d.rxAutoMasked = true, false
	}
	if r := d.toCause(c); r != 0 {
		d.irqOn.Or(uint32(r))
		d.nic.EnableIRQ(r)
	}
}

// DisableIRQ masks causes c (one IMC write). Masking the RX cause alone
// while the NIC holds it auto-masked (MSI-X, between AckIRQ and the RX
// vector's Unmask) writes nothing: it is masked already.
func (d *Device) DisableIRQ(c driver.Causes) {
	d.irqMu.Lock()
	defer d.irqMu.Unlock()
	if c&driver.CauseRX != 0 {
		d.rxOn = false
	}
	r := d.toCause(c)
	d.irqOn.And(^uint32(r))
	if r == 0 || (r == d.causes.RX && d.rxAutoMasked) {
		return
	}
	d.nic.DisableIRQ(r)
}
