package e1000

import (
	"errors"
	"fmt"
	"github.com/uiodrv/uiodrv/bus"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// NewDeviceOn builds a Device on an initialised NIC and a bus (anything with
// the teardown operations of *bus.Bus), for teardown tests on fakes.
// teardown, if not nil, is called at the start of each step of Close.
func NewDeviceOn(bdf string, nic *NIC, bus interface {
	DisableInterrupts() error
	DisableBusMaster() error
	KeepDMA()
	Close() error
}, teardown func(step string)) *Device {
	return &Device{NIC: nic, bdf: bdf, bus: bus, pool: nic.pool, teardown: teardown}
}

// SetTeardownHook makes Close call f at the start of each of its steps, so a
// lab test can read the real device's state between them.
func SetTeardownHook(d *Device, f func(step string)) { d.teardown = f }

// SetVectors attaches vectors as Open does (tests on fakes).
func SetVectors(n *NIC, vs []driver.Vector) { n.setVectors(vs) }

// The register-level interrupt operations, for tests.
func (n *NIC) ReadCause() Cause    { return n.readCause() }
func (n *NIC) EnableIRQ(c Cause)   { n.wr(intel.IMS, uint32(c)) }
func (n *NIC) DisableIRQ(c Cause)  { n.wr(intel.IMC, uint32(c)) }
func (n *NIC) IRQMask() Cause      { return Cause(n.rd(intel.IMS)) }
func (n *NIC) TriggerIRQ(c Cause)  { n.wr(intel.ICS, uint32(c)) }
func (n *NIC) RxRingSize() int     { return n.opts.RxRingSize }
func (n *NIC) TxRingSize() int     { return n.opts.TxRingSize }
func (n *NIC) Configured() bool    { return n.configured() }
func (n *NIC) RxPending() bool     { return n.rx.Pending() }
func (n *NIC) FlushRx()            { n.rx.Flush() }
func (n *NIC) RxWaiting() int      { return n.rx.Waiting() }
func (n *NIC) TxWaiting() int      { return n.tx.Waiting() }
func (n *NIC) TxInFlight() int     { return n.tx.InFlight() }
func RxFreeThreshFor(ring int) int { return min(driver.RxFreeThresh, ring/4) }

// ResetUnderDriver resets d's NIC behind the driver's back, the strongest
// way the lab offers: VFIO_DEVICE_RESET when the backend offers it, else
// CTRL.RST written to BAR0; and when the registers still hold the driver's
// configuration afterwards (QEMU 7.2's e1000 ignores CTRL.RST, and a PCI
// power-management reset does not reach its registers), it clears RCTL,
// TCTL, RDLEN and TDLEN itself, as a reset leaves them. It says what it did.
func ResetUnderDriver(d *Device) (string, error) {
	how := ""
	if b, ok := d.bus.(*bus.Bus); ok {
		err := b.Reset()
		switch {
		case err == nil && !d.configured():
			return "VFIO_DEVICE_RESET" + d.regState(), nil
		case err == nil:
			how = "VFIO_DEVICE_RESET (registers unchanged), "
		case errors.Is(err, bus.ErrUnsupported):
			how = "no VFIO reset offered, "
		default:
			return "VFIO_DEVICE_RESET", err
		}
	}
	d.wr(intel.CTRL, d.rd(intel.CTRL)|intel.CTRL_RST)
	time.Sleep(resetDelay)
	if !d.configured() {
		return how + "CTRL.RST" + d.regState(), nil
	}
	how += "CTRL.RST (registers unchanged" + d.regState() + "), "
	for _, r := range []Reg{intel.RCTL, intel.TCTL, RDLEN(0), TDLEN(0)} {
		d.wr(r, 0)
	}
	return how + "RCTL, TCTL, RDLEN, TDLEN cleared" + d.regState(), nil
}

func (d *Device) regState() string {
	return fmt.Sprintf(" [RCTL %#x RDLEN %d TDLEN %d]", d.rd(intel.RCTL), d.rd(RDLEN(0)), d.rd(TDLEN(0)))
}
