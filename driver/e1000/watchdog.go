package e1000

import (
	"fmt"
	"time"

	"github.com/uiodrv/uiodrv/driver/intel"
)

// The hang watchdog follows Linux e1000's: a periodic check (e1000_watchdog)
// that finds the TX unit stuck (descriptors queued, link up, the head not
// moving: e1000_clean_tx_irq's "Detected Tx Unit Hang"), and a reset task
// (e1000_reset_task -> e1000_reinit_locked) that stops the paths, resets and
// re-initialises the NIC. A NIC that was reset under the driver (its
// registers back at their defaults, e.g. by VFIO_DEVICE_RESET) is found the
// same way: the rings it was given are gone.

// watchState is what CheckHang remembers between calls.
type watchState struct {
	since time.Time // when the TX head was last seen moving; zero: nothing in flight
	tdh   uint32    // TDH then
	left  int       // frames told and not reclaimed then
}

// configured reports whether the NIC still holds the configuration init
// gave it: RX enabled and both rings' lengths. A reset clears all three.
func (n *NIC) configured() bool {
	return n.rd(intel.RCTL)&intel.RCTL_EN != 0 &&
		n.rd(RDLEN(0)) == uint32(n.opts.RxRingSize*DescSize) && n.rd(TDLEN(0)) == uint32(n.opts.TxRingSize*DescSize)
}

// CheckHang reports whether the NIC needs Reinit (driver.Resetter): it was
// reset under the driver, or frames are queued for transmission, the link
// is up and the TX head has not moved for longer than timeout. It reads a
// few registers and the TX ring's published tail, never the TX path's own
// state, so it runs beside the packet path; one call at a time.
func (n *NIC) CheckHang(now time.Time, timeout time.Duration) (string, bool) {
	if !n.configured() {
		return fmt.Sprintf("reset under the driver (RCTL %#x, RDLEN %d, TDLEN %d)", n.rd(intel.RCTL), n.rd(RDLEN(0)), n.rd(TDLEN(0))), true
	}
	up, _ := n.LinkUp()
	tdh := n.rd(TDH(0))
	tail, left := n.tx.Told()
	if !up || left == 0 || tdh == tail {
		// Nothing queued, no link to send on, or everything sent and
		// waiting to be reclaimed: not a hang.
		n.wd.since = time.Time{}
		return "", false
	}
	if n.wd.since.IsZero() || tdh != n.wd.tdh || left != n.wd.left {
		n.wd = watchState{since: now, tdh: tdh, left: left}
		return "", false
	}
	if stuck := now.Sub(n.wd.since); stuck > timeout {
		return fmt.Sprintf("TX unit hang: %d frames queued, head stuck at %d (tail %d) for %v",
			left, tdh, tail, stuck.Round(time.Millisecond)), true
	}
	return "", false
}

// Reinit stops the RX and TX paths (their rings' gates: a burst in
// progress finishes, later ones do nothing until the end), keeps the
// hardware counters counted so far, gives every buffer the rings held back
// to the pool (queued frames are dropped), resets and re-initialises the
// NIC on the same rings, and unmasks the interrupts that were enabled. The
// pool, the MAC address and the counters survive. Safe while the port runs
// (driver.Resetter); not concurrently with Close.
func (n *NIC) Reinit() error {
	n.rx.Stop()
	defer n.rx.Start()
	n.tx.Stop()
	defer n.tx.Start()
	ims := Cause(n.irqOn.Load()) // not IMS: a reset under the driver cleared it
	n.hwMu.Lock()
	n.readHW(&n.hw) // before the reset clears them
	n.hwMu.Unlock()
	n.wd = watchState{}
	n.wr(intel.IMC, uint32(CauseAll))
	n.rx.Release()
	n.tx.Release()
	if err := n.init(); err != nil {
		return fmt.Errorf("e1000: reinit %v: %w", n.model, err)
	}
	n.wr(intel.IMS, uint32(ims))
	return nil
}
