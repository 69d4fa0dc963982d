package e1000

import (
	"fmt"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// The hang watchdog follows Linux e1000's: a periodic check (e1000_watchdog)
// that finds the TX unit stuck (descriptors queued, link up, the head not
// moving: e1000_clean_tx_irq's "Detected Tx Unit Hang"), and a reset task
// (e1000_reset_task -> e1000_reinit_locked) that stops the paths, resets and
// re-initialises the NIC. A NIC that was reset under the driver (its
// registers back at their defaults, e.g. by VFIO_DEVICE_RESET) is found the
// same way: the rings it was given are gone.

var _ driver.Resetter = (*Device)(nil)

// watchState is what CheckHang remembers between calls.
type watchState struct {
	since time.Time // when the TX head was last seen moving; zero: nothing in flight
	tdh   uint32    // TDH then
	clean uint32    // txClean then
}

// configured reports whether the NIC still holds the configuration init
// gave it: RX enabled and both rings' lengths. A reset clears all three.
func (n *NIC) configured() bool {
	return n.rd(RCTL)&RCTL_EN != 0 &&
		n.rd(RDLEN(0)) == uint32(len(n.rxDescs)) && n.rd(TDLEN(0)) == uint32(len(n.txDescs))
}

// CheckHang reports whether the NIC needs Reinit: it was reset under the
// driver, or frames are queued for transmission, the link is up and the TX
// head has not moved for longer than timeout. It reads a few registers and
// may be called from any goroutine, one at a time.
func (d *Device) CheckHang(now time.Time, timeout time.Duration) (string, bool) {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	n := d.nic
	if !n.configured() {
		return fmt.Sprintf("reset under the driver (RCTL %#x, RDLEN %d, TDLEN %d)", n.rd(RCTL), n.rd(RDLEN(0)), n.rd(TDLEN(0))), true
	}
	up, _ := n.LinkUp()
	tdh := n.rd(TDH(0))
	if !up || n.TxInFlight() == 0 || tdh == n.txTail {
		// Nothing queued, no link to send on, or everything sent and
		// waiting to be reclaimed: not a hang.
		d.wd.since = time.Time{}
		return "", false
	}
	if d.wd.since.IsZero() || tdh != d.wd.tdh || n.txClean != d.wd.clean {
		d.wd = watchState{since: now, tdh: tdh, clean: n.txClean}
		return "", false
	}
	if stuck := now.Sub(d.wd.since); stuck > timeout {
		return fmt.Sprintf("TX unit hang: %d frames queued, head stuck at %d (tail %d) for %v",
			n.TxInFlight(), tdh, n.txTail, stuck.Round(time.Millisecond)), true
	}
	return "", false
}

// Reinit stops the RX and TX paths (they wait on the Device's locks), keeps
// the hardware counters counted so far, resets and re-initialises the NIC
// with the same rings and buffer pool, and unmasks the interrupts that were
// enabled. Frames queued for transmission are dropped (their buffers go
// back to the pool), as are buffers posted for RX. The pool, the MAC
// address and the counters survive. Safe while the port runs.
func (d *Device) Reinit() error {
	d.rxMu.Lock()
	defer d.rxMu.Unlock()
	d.txMu.Lock()
	defer d.txMu.Unlock()
	if d.closed.Load() {
		return fmt.Errorf("%s: reinit: device closed", d.bdf)
	}
	ims := Cause(d.irqOn.Load()) // not IMS: a reset under the driver cleared it
	d.hwMu.Lock()
	d.nic.ReadStats(&d.hw) // before the reset clears them
	d.hwMu.Unlock()
	d.wd = watchState{}
	if err := d.nic.reinit(); err != nil {
		return fmt.Errorf("%s: reinit: %w", d.bdf, err)
	}
	d.nic.EnableIRQ(ims)
	return nil
}

// reinit gives every buffer the NIC held back to the pool and runs the init
// sequence again on the same rings. The RX and TX paths must be stopped.
func (n *NIC) reinit() error {
	n.wr(IMC, uint32(CauseAll))
	free := n.rxFill[:0]
	for i, b := range n.rxBufs {
		if b != noBuf {
			free = append(free, b)
			n.rxBufs[i] = noBuf
		}
	}
	n.pool.PutMany(free)
	free = n.txFree[:0]
	for i, b := range n.txBufs {
		if b != noBuf {
			free = append(free, b)
			n.txBufs[i] = noBuf
		}
	}
	n.pool.PutMany(free)
	n.rxInFrame = false
	return n.init()
}
