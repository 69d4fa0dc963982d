package igbtest

import (
	"fmt"
	"net"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/mmio"
)

// DefaultMAC is the station address the NVM loads at reset (QEMU's default).
var DefaultMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

const (
	barSize = 0x20000 // BAR0 is 128 KiB
	nqueues = 16
)

// regKind is what a per-queue register offset is.
type regKind int

const (
	kNone regKind = iota
	kRDT
	kRDLEN
	kRXDCTL
	kTDT
	kTDLEN
	kTXDCTL
	kRQDPC
)

type qreg struct {
	kind regKind
	q    int
}

// Write is one logged register write.
type Write = drivertest.RegWrite[igb.Reg]

// Device is a fake igb BAR0. Create it with New.
type Device struct {
	drivertest.RegFile[igb.Reg] // its Mu guards the fields below
	alloc                       *drivertest.MemAllocator
	perQ                        map[igb.Reg]qreg
	fds                         []int // MSI-X vectors as eventfds
	fires                       []int
}

var _ mmio.Regs = (*Device)(nil)

// New returns a powered-up device whose DMA reaches alloc's memory, with
// vectors MSI-X vectors (eventfds; 0 for none) and the write log on.
func New(alloc *drivertest.MemAllocator, vectors int) (*Device, error) {
	d := &Device{RegFile: drivertest.NewRegFile[igb.Reg]("igbtest", barSize), alloc: alloc, perQ: make(map[igb.Reg]qreg)}
	for q := 0; q < nqueues; q++ {
		for r, k := range map[igb.Reg]regKind{igb.RDT(q): kRDT, igb.RDLEN(q): kRDLEN, igb.RXDCTL(q): kRXDCTL,
			igb.TDT(q): kTDT, igb.TDLEN(q): kTDLEN, igb.TXDCTL(q): kTXDCTL, igb.RQDPC(q): kRQDPC} {
			d.perQ[r] = qreg{k, q}
		}
	}
	for i := 0; i < vectors; i++ {
		fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("igbtest: eventfd: %w", err)
		}
		d.fds = append(d.fds, fd)
	}
	d.fires = make([]int, vectors)
	d.reset()
	return d, nil
}

// Close closes the vectors' eventfds.
func (d *Device) Close() {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	for _, fd := range d.fds {
		unix.Close(fd)
	}
	d.fds = nil
}

// Vectors describes the MSI-X vectors as the bus would attach them: one per
// queue and the last for link.
func (d *Device) Vectors() []driver.Vector {
	vs := make([]driver.Vector, len(d.fds))
	for i, fd := range d.fds {
		vs[i] = driver.Vector{Name: fmt.Sprintf("q%d", i), Fd: fd, Causes: driver.CauseRX | driver.CauseTX}
	}
	if len(vs) > 0 {
		vs[len(vs)-1].Name, vs[len(vs)-1].Causes = "other", driver.CauseLink
	}
	return vs
}

func (d *Device) r(reg igb.Reg) uint32    { return d.Regs[reg/4] }
func (d *Device) w(reg igb.Reg, v uint32) { d.Regs[reg/4] = v }

// reset puts registers in their power-up state as QEMU's igb does: queue 0
// enabled, the MAC loaded into RAL0/RAH0, and the link down until the PHY's
// auto-negotiation is restarted. Statistics survive.
func (d *Device) reset() {
	d.PowerUp(igb.StatsFirst, igb.StatsLast)
	d.w(intel.CTRL, intel.CTRL_FD)
	d.w(igb.RXDCTL(0), igb.RXDCTL_QUEUE_ENABLE)
	d.w(igb.TXDCTL(0), igb.TXDCTL_QUEUE_ENABLE)
	d.LoadMAC(intel.RAL(0), intel.RAH(0), DefaultMAC, igb.RAH_AV)
}

// Read32 implements mmio.Regs with the side effects of reads.
func (d *Device) Read32(off uint32) uint32 {
	d.Check(off)
	d.Mu.Lock()
	defer d.Mu.Unlock()
	reg := igb.Reg(off)
	v := d.r(reg)
	switch {
	case reg == intel.ICR:
		d.w(reg, 0) // GPIE.NSICR: every read clears
	case reg == igb.EIMC || reg == intel.IMC || reg == igb.EICS:
		return 0
	case reg >= igb.StatsFirst && reg <= igb.StatsLast, d.perQ[reg].kind == kRQDPC:
		d.w(reg, 0)
		if reg == intel.GORCH || reg == intel.GOTCH {
			d.w(reg-4, 0)
		}
	}
	return v
}

// Write32 implements mmio.Regs with the side effects of writes.
func (d *Device) Write32(off uint32, v uint32) {
	d.Check(off)
	d.Mu.Lock()
	defer d.Mu.Unlock()
	reg := igb.Reg(off)
	d.Record(reg, v)
	if pq, ok := d.perQ[reg]; ok {
		d.writeQueue(reg, pq, v)
		return
	}
	switch reg {
	case intel.CTRL:
		if v&intel.CTRL_RST != 0 {
			d.reset()
			return
		}
		d.w(reg, v)
	case intel.STATUS:
	case igb.MDIC:
		d.mdic(v)
	case intel.ICR:
		d.w(reg, d.r(reg)&^v)
	case intel.ICS:
		d.cause(v)
	case intel.IMS:
		d.w(reg, d.r(reg)|v)
		d.cause(0)
	case intel.IMC:
		d.w(intel.IMS, d.r(intel.IMS)&^v)
	case igb.EICR:
		d.w(reg, d.r(reg)&^v)
	case igb.EICS:
		d.raise(v)
	case igb.EIMS:
		old := d.r(igb.EICR) & d.r(igb.EIMS)
		d.w(reg, d.r(reg)|v)
		d.fire(old)
	case igb.EIMC:
		d.w(igb.EIMS, d.r(igb.EIMS)&^v)
	case igb.IVAR_MISC:
		if v&igb.IVAR_VALID<<8 != 0 && len(d.fds) > 0 && int(v>>8&0x1f) >= len(d.fds) {
			d.Violation("IVAR_MISC routes other causes to vector %d of %d", v>>8&0x1f, len(d.fds))
		}
		d.w(reg, v)
	default:
		if reg >= igb.IVAR0 && reg < igb.IVAR0+32 {
			for b := 0; b < 32; b += 8 {
				if e := v >> b & 0xff; e&igb.IVAR_VALID != 0 && len(d.fds) > 0 && int(e&0x1f) >= len(d.fds) {
					d.Violation("IVAR %#x routes a queue to vector %d of %d", reg, e&0x1f, len(d.fds))
				}
			}
		}
		d.w(reg, v)
	}
}

// mdic completes a PHY access at once. Restarting auto-negotiation brings
// the link up at 1000 Mb/s full duplex and raises LSC.
func (d *Device) mdic(v uint32) {
	if (v>>igb.MDIC_PHY_SHIFT)&0x1f != igb.PHY_ADDR {
		d.w(igb.MDIC, v|igb.MDIC_ERROR|igb.MDIC_READY)
		return
	}
	reg := (v >> igb.MDIC_REG_SHIFT) & 0x1f
	if v&igb.MDIC_OP_WRITE != 0 && reg == igb.PHY_CONTROL && v&igb.MII_CR_RESTART_AUTONEG != 0 {
		d.w(intel.STATUS, intel.STATUS_LU|intel.STATUS_FD|intel.STATUS_SPEED_1000)
		d.cause(igb.ICR_LSC)
	}
	d.w(igb.MDIC, v|igb.MDIC_READY)
}

// Fires returns how many messages vector v sent.
func (d *Device) Fires(v int) int {
	d.Mu.Lock()
	defer d.Mu.Unlock()
	return d.fires[v]
}
