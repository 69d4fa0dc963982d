package virtio

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

var _ driver.Resetter = (*NIC)(nil)

// gateStopped is the bit of gate.s that stop sets; the rest counts the
// paths inside.
const gateStopped = 1 << 30

// gate lets Reinit stop a queue's packet path without the path taking a
// lock: the path enters and leaves with an atomic add each and does nothing
// while the gate is stopped; stop waits for the paths inside to leave.
type gate struct{ s atomic.Int32 }

func (g *gate) enter() bool {
	if g.s.Add(1)&gateStopped != 0 {
		g.s.Add(-1)
		return false
	}
	return true
}

func (g *gate) exit() { g.s.Add(-1) }

func (g *gate) stop() {
	g.s.Or(gateStopped)
	for g.s.Load() != gateStopped {
		runtime.Gosched() // a path runs for one burst: microseconds
	}
}

func (g *gate) start() { g.s.And(^int32(gateStopped)) }

// txWatch is CheckHang's record of one TX queue: the used index it last
// saw and since when, while frames were outstanding.
type txWatch struct {
	used  uint16
	since time.Time
}

// CheckHang reports a device that needs Reinit (driver.Resetter): one that
// set DEVICE_NEEDS_RESET (virtio 1.2 2.1.1), one reset under the driver
// (DRIVER_OK gone from device_status), or a TX queue with frames made
// available whose used index has not moved for timeout.
func (n *NIC) CheckHang(now time.Time, timeout time.Duration) (string, bool) {
	if n.closed.Load() {
		return "", false
	}
	st := n.tr.Common.Read8(CommonStatus)
	switch {
	case st&StatusNeedsReset != 0:
		return fmt.Sprintf("device_status %#x: the device needs a reset", st), true
	case st&StatusDriverOK == 0:
		return fmt.Sprintf("device_status %#x: DRIVER_OK lost, the device was reset", st), true
	}
	for q, t := range n.tx {
		w := &n.wd[q]
		used := t.usedIdx()
		if uint16(t.pub.Load()) == used || used != w.used || w.since.IsZero() {
			w.used, w.since = used, now
			continue
		}
		if now.Sub(w.since) >= timeout {
			return fmt.Sprintf("TX queue %d: %d frames unsent for %v", q, uint16(t.pub.Load())-used, now.Sub(w.since).Round(time.Millisecond)), true
		}
	}
	return "", false
}

// Reinit resets the device and initialises it again on the same
// virtqueues while the port runs (driver.Resetter): the packet paths are
// stopped, the device reset (it no longer uses the rings), every buffer in
// a ring returned to the pool, and the rings rewound; then the device is
// negotiated, its queues set up, RX refilled and DRIVER_OK set, as at open.
// Interrupt suppression chosen by SetIRQ survives (it lives in the avail
// rings' flags, which rewinding keeps).
func (n *NIC) Reinit() error {
	for q := range n.rx {
		n.rx[q].g.stop()
		defer n.rx[q].g.start()
		n.tx[q].g.stop()
		defer n.tx[q].g.start()
	}
	if err := n.reset(); err != nil {
		return fmt.Errorf("virtio-net: reinit: %w", err)
	}
	for _, qs := range [][]*vq{n.rx, n.tx} {
		for _, q := range qs {
			q.rewind(n.pool)
		}
	}
	if n.ctrl != nil {
		n.ctrl.rewind(n.pool)
	}
	clear(n.wd)
	if err := n.init(); err != nil {
		return fmt.Errorf("virtio-net: reinit: %w", err)
	}
	return nil
}
