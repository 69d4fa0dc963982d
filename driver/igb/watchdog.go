package igb

import (
	"fmt"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// The hang watchdog follows Linux igb's: igb_watchdog_task notices a TX
// queue whose head stopped moving with frames queued and the link up
// (igb_clean_tx_irq's "Detected Tx Unit Hang"), and igb_reset_task resets
// and re-initialises the adapter (igb_reinit_locked). A NIC reset under the
// driver (registers back at their defaults, e.g. by VFIO_DEVICE_RESET) is
// found the same way: the rings it was given are gone.

// watchState is what CheckHang remembers of one TX queue between calls.
type watchState struct {
	since time.Time // when the head was last seen moving; zero: nothing in flight
	tdh   uint32
	left  int // frames told and not reclaimed then
}

// configured reports whether the NIC still holds the configuration init
// gave it: RX enabled and every ring's length. A reset clears them.
func (n *NIC) configured() bool {
	if n.rd(intel.RCTL)&intel.RCTL_EN == 0 {
		return false
	}
	for q := 0; q < n.opts.Queues; q++ {
		if n.rd(RDLEN(q)) != uint32(n.opts.RxRingSize*DescSize) || n.rd(TDLEN(q)) != uint32(n.opts.TxRingSize*DescSize) {
			return false
		}
	}
	return true
}

// CheckHang reports whether the NIC needs Reinit (driver.Resetter): it was
// reset under the driver, or a TX queue has frames queued, the link is up
// and its head has not moved for longer than timeout. It reads registers
// and the TX rings' published tails, never the TX paths' own state, so it
// runs beside the packet path; one call at a time.
func (n *NIC) CheckHang(now time.Time, timeout time.Duration) (string, bool) {
	if !n.configured() {
		return fmt.Sprintf("reset under the driver (RCTL %#x, RDLEN(0) %d, TDLEN(0) %d)", n.rd(intel.RCTL), n.rd(RDLEN(0)), n.rd(TDLEN(0))), true
	}
	up, _ := n.Link()
	for q, t := range n.tx {
		w := &n.wd[q]
		tdh := n.rd(TDH(q))
		tail, left := t.Told()
		if !up || left == 0 || tdh == tail {
			w.since = time.Time{}
			continue
		}
		if w.since.IsZero() || tdh != w.tdh || left != w.left {
			*w = watchState{since: now, tdh: tdh, left: left}
			continue
		}
		if stuck := now.Sub(w.since); stuck > timeout {
			return fmt.Sprintf("TX queue %d hang: %d frames queued, head stuck at %d (tail %d) for %v",
				q, left, tdh, tail, stuck.Round(time.Millisecond)), true
		}
	}
	return "", false
}

// Reinit stops every queue's RX and TX paths (the rings' gates: a burst in
// progress finishes, later ones do nothing until the end), keeps the
// counters counted so far, gives every buffer the rings held back to the
// pool (queued frames are dropped), resets and re-initialises the NIC on the
// same rings, and restores the interrupt masks software had set (SetIRQ).
// The pool, the MAC address and the counters survive. Safe while the port
// runs (driver.Resetter); not concurrently with Close.
func (n *NIC) Reinit() error {
	for q := range n.rx {
		n.rx[q].Stop()
		defer n.rx[q].Start()
		n.tx[q].Stop()
		defer n.tx[q].Start()
	}
	on := make([]uint32, len(n.on))
	for v := range n.on {
		on[v] = n.on[v].Load()
	}
	n.statsMu.Lock()
	n.readHW(&n.carry) // before the reset clears them
	n.statsMu.Unlock()
	clear(n.wd)
	n.maskAll()
	for q := range n.rx {
		n.rx[q].Release()
		n.tx[q].Release()
	}
	if err := n.init(); err != nil {
		return fmt.Errorf("igb: reinit %s: %w", n.model.Name, err)
	}
	// init enabled every vector; mask again those software had masked
	// (NAPI polling), as SetIRQ would.
	for v := range n.on {
		n.on[v].Store(on[v])
		if !n.armed(v, driver.Causes(on[v])) {
			n.wr(EIMC, 1<<v)
		}
	}
	return nil
}
