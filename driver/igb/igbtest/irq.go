package igbtest

import (
	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// cause sets ICR bits and, in MSI-X mode, routes enabled ones to the "other"
// vector through IVAR_MISC (82576 7.3.2).
func (d *Device) cause(c uint32) {
	d.w(intel.ICR, d.r(intel.ICR)|c)
	if d.r(igb.GPIE)&igb.GPIE_MSIX_MODE == 0 || d.r(intel.ICR)&d.r(intel.IMS) == 0 {
		return
	}
	if m := d.r(igb.IVAR_MISC) >> 8; m&igb.IVAR_VALID != 0 {
		d.raise(1 << (m & 0x1f))
	}
}

// raise sets EICR bits and sends a message for each vector whose cause is
// pending and unmasked: EIAC clears its cause, EIAM (with GPIE.EIAME) masks
// it, as on the 82576 (7.3.4). QEMU's igb does the first, not the second.
func (d *Device) raise(bits uint32) {
	old := d.r(igb.EICR) & d.r(igb.EIMS)
	d.w(igb.EICR, d.r(igb.EICR)|bits)
	d.fire(old)
}

// fire sends a message for each vector that became pending and unmasked
// since old (EICR & EIMS before the change): messages are edges, as in
// QEMU's igb_raise_interrupts.
func (d *Device) fire(old uint32) {
	if d.r(igb.GPIE)&igb.GPIE_MSIX_MODE == 0 {
		return
	}
	pend := d.r(igb.EICR) & d.r(igb.EIMS) &^ old
	for v := 0; v < len(d.fds); v++ {
		bit := uint32(1) << v
		if pend&bit == 0 {
			continue
		}
		if d.r(igb.EIAC)&bit != 0 {
			d.w(igb.EICR, d.r(igb.EICR)&^bit)
		}
		if d.r(igb.GPIE)&igb.GPIE_EIAME != 0 && d.r(igb.EIAM)&bit != 0 {
			d.w(igb.EIMS, d.r(igb.EIMS)&^bit)
		}
		var one = [8]byte{1}
		_, _ = unix.Write(d.fds[v], one[:])
		d.fires[v]++
	}
}

// queueVector is the EICR bit IVAR gives queue q's RX (tx false) or TX
// entry, or 0 (82576 layout: igb_ivar_entry_rx in QEMU).
func (d *Device) queueVector(q int, tx bool) uint32 {
	shift := uint(q&8) * 2
	if tx {
		shift += 8
	}
	e := d.r(igb.IVAR(q&7)) >> shift & 0xff
	if e&igb.IVAR_VALID == 0 {
		return 0
	}
	return 1 << (e & 0x1f)
}
