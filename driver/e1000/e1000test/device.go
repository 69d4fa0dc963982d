package e1000test

import (
	"net"

	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

// DefaultMAC is the station address a Device starts with (QEMU's default).
var DefaultMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

// barSize is BAR0's size: 128 KiB.
const barSize = 0x20000

// Write is one logged register write.
type Write = drivertest.RegWrite[e1000.Reg]

// Device is a fake e1000 BAR0 plus enough of the NIC's behaviour to test a
// driver against. Create it with New; the zero value is not usable.
type Device struct {
	drivertest.RegFile[e1000.Reg] // its Mu guards the fields below
	model                         e1000.Model
	alloc                         *drivertest.MemAllocator
	eeprom                        [64]uint16
	mac                           net.HardwareAddr
	macRAL                        bool // load the MAC into RAL0/RAH0 at reset
	msix                          bool

	// ResetReads is how many CTRL reads after a reset still show CTRL.RST
	// set, to exercise the driver's wait. Set it before the reset.
	ResetReads int
	rstLeft    int
}

var _ mmio.Regs = (*Device)(nil)

// New returns a device of the given model, powered up with DefaultMAC, link
// up at 1000 Mb/s, and write logging on. alloc is the memory it DMAs into.
func New(model e1000.Model, alloc *drivertest.MemAllocator) *Device {
	d := &Device{RegFile: drivertest.NewRegFile[e1000.Reg]("e1000test", barSize), model: model, alloc: alloc, macRAL: true}
	d.setMAC(DefaultMAC)
	d.reset()
	return d
}

func (d *Device) setMAC(mac net.HardwareAddr) {
	d.mac = append(net.HardwareAddr(nil), mac...)
	for i := 0; i < 3; i++ {
		d.eeprom[i] = uint16(mac[2*i]) | uint16(mac[2*i+1])<<8
	}
}

// SetMAC sets the EEPROM's station address. With inRAL false the hardware
// "fails" to load it into RAL0/RAH0 at reset, so the driver must use EERD.
// It takes effect at the next reset.
func (d *Device) SetMAC(mac net.HardwareAddr, inRAL bool) {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	d.setMAC(mac)
	d.macRAL = inRAL
}

// SetMSIX tells the device whether MSI-X is enabled in its PCI capability,
// which changes ICR to write-1-to-clear on the 82574.
func (d *Device) SetMSIX(on bool) {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	d.msix = on
}

func (d *Device) r(reg e1000.Reg) uint32         { return d.Regs[reg/4] }
func (d *Device) w(reg e1000.Reg, v uint32)      { d.Regs[reg/4] = v }
func (d *Device) or(reg e1000.Reg, v uint32)     { d.Regs[reg/4] |= v }
func (d *Device) andNot(reg e1000.Reg, v uint32) { d.Regs[reg/4] &^= v }

// reset puts every register in its power-up state, keeping statistics
// (they survive a software reset on real parts too).
func (d *Device) reset() {
	d.PowerUp(e1000.StatsFirst, e1000.StatsLast)
	d.w(intel.CTRL, intel.CTRL_FD)
	d.w(intel.STATUS, intel.STATUS_LU|intel.STATUS_FD|intel.STATUS_SPEED_1000)
	d.w(intel.EECD, e1000.EECD_PRES|e1000.EECD_AUTO_RD)
	if d.model == e1000.Model82574L {
		d.w(intel.EERD, e1000.EERD_DONE_82574)
		d.w(e1000.TARC(0), e1000.TARC_ENABLE|3)
	} else if d.model != e1000.Model82544GC {
		d.w(intel.EERD, e1000.EERD_DONE)
	}
	if d.macRAL {
		d.LoadMAC(intel.RAL(0), intel.RAH(0), d.mac, e1000.RAH_AV)
	}
}

// Read32 implements mmio.Regs with the side effects of reads.
func (d *Device) Read32(off uint32) uint32 {
	d.Check(off)
	d.Mu.Lock()
	defer d.Mu.Unlock()
	reg := e1000.Reg(off)
	switch {
	case reg == intel.CTRL:
		v := d.r(reg)
		if d.rstLeft > 0 {
			d.rstLeft--
			v |= intel.CTRL_RST
		}
		return v
	case reg == intel.ICR:
		v := d.r(reg)
		if !(d.model == e1000.Model82574L && d.msix) {
			d.w(reg, 0) // clear on read (SDM 13.4.17)
		}
		return v
	case reg == intel.ICS:
		return d.r(intel.ICR)
	case reg == intel.IMC:
		return 0
	case reg >= e1000.StatsFirst && reg <= e1000.StatsLast:
		v := d.r(reg)
		d.w(reg, 0)
		switch reg {
		case intel.GORCH, intel.GOTCH, e1000.TORH, e1000.TOTH:
			d.w(reg-4, 0) // reading the high half clears both
		}
		return v
	case reg == intel.EERD && d.model == e1000.Model82544GC:
		return 0 // no such register
	}
	return d.r(reg)
}

// Write32 implements mmio.Regs with the side effects of writes.
func (d *Device) Write32(off uint32, v uint32) {
	d.Check(off)
	d.Mu.Lock()
	defer d.Mu.Unlock()
	reg := e1000.Reg(off)
	d.Record(reg, v)
	switch reg {
	case intel.CTRL:
		if v&intel.CTRL_RST != 0 {
			d.reset()
			d.rstLeft = d.ResetReads
			return
		}
		d.w(reg, v)
	case intel.ICR:
		d.andNot(reg, v)
	case intel.ICS:
		d.or(intel.ICR, v)
	case intel.IMS:
		d.or(intel.IMS, v)
	case intel.IMC:
		d.andNot(intel.IMS, v)
	case intel.STATUS:
		// read-only
	case intel.EERD:
		d.eerd(v)
	case e1000.RDT(0):
		n := d.r(e1000.RDLEN(0)) / e1000.DescSize
		old, head := d.r(reg), d.r(e1000.RDH(0))
		if n != 0 && v >= n {
			d.Violation("RDT %d outside ring of %d", v, n)
		}
		if v == head && (v != old || d.r(intel.RCTL)&intel.RCTL_EN != 0) {
			d.Violation("RDT written equal to RDH (%d): the NIC reads that as an empty ring", v)
		}
		d.w(reg, v)
	case e1000.TDT(0):
		n := d.r(e1000.TDLEN(0)) / e1000.DescSize
		if n != 0 && v >= n {
			d.Violation("TDT %d outside ring of %d", v, n)
		}
		d.w(reg, v)
	default:
		d.w(reg, v)
	}
}

func (d *Device) eerd(v uint32) {
	if d.model == e1000.Model82544GC || v&e1000.EERD_START == 0 {
		return
	}
	shift, done, mask := uint32(e1000.EERD_ADDR_SHIFT), e1000.EERD_DONE, uint32(0xFF)
	if d.model == e1000.Model82574L {
		shift, done, mask = e1000.EERD_ADDR_SHIFT_82574, e1000.EERD_DONE_82574, 0x3FFF
	}
	addr := v >> shift & mask
	var data uint16
	if int(addr) < len(d.eeprom) {
		data = d.eeprom[addr]
	}
	d.w(intel.EERD, done|addr<<shift|uint32(data)<<e1000.EERD_DATA_SHIFT)
}

// Pending returns the causes that would assert an interrupt: ICR & IMS.
func (d *Device) Pending() e1000.Cause {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	return e1000.Cause(d.r(intel.ICR) & d.r(intel.IMS))
}

// AddStat adds v to a 32-bit statistics register.
func (d *Device) AddStat(reg e1000.Reg, v uint32) {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	d.Regs[reg/4] += v
}

// SetLink sets the link state in STATUS and raises LSC.
func (d *Device) SetLink(up bool) {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	if up {
		d.or(intel.STATUS, intel.STATUS_LU)
	} else {
		d.andNot(intel.STATUS, intel.STATUS_LU)
	}
	d.cause(e1000.ICR_LSC)
}

// cause sets ICR bits, adding OTHER for non-queue causes in MSI-X mode.
func (d *Device) cause(c e1000.Cause) {
	if d.model == e1000.Model82574L && d.msix && c&^(e1000.ICR_RXQ0|e1000.ICR_TXQ0|e1000.ICR_RXQ1|e1000.ICR_TXQ1) != 0 {
		c |= e1000.ICR_OTHER
	}
	d.or(intel.ICR, uint32(c))
}
