package driver

import (
	"time"

	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/deferral"
)

// Resetter is implemented by a NIC that can tell that it hangs (or was
// reset under the driver) and re-initialise itself in place, keeping its
// buffer pool and counters: the kernel's TX-hang watchdog and reset task.
type Resetter interface {
	// CheckHang reports whether the device needs Reinit, and why. timeout
	// is how long queued TX frames may go unsent before it is a hang.
	CheckHang(now time.Time, timeout time.Duration) (why string, hung bool)
	// Reinit resets and re-initialises the device while the port runs.
	Reinit() error
}

// DefaultWatchdog is the watchdog period when Config.Watchdog is 0: Linux
// e1000's watchdog runs every 2 s.
const DefaultWatchdog = 2 * time.Second

// watchdog is the port's hang watchdog: a ticker that queues a work item on
// the port's events workqueue, where the check and any reset run (they may
// sleep, as the kernel's reset task does).
type watchdog struct {
	every time.Duration
	work  *deferral.Work
	stop  chan struct{}
	done  chan struct{}
}

// startWatchdog starts the watchdog if the device can be reset and the
// configuration does not turn it off.
func (p *Port) startWatchdog() {
	r, ok := p.nic.(Resetter)
	if !ok || p.cfg.Watchdog < 0 {
		return
	}
	every := p.cfg.Watchdog
	if every == 0 {
		every = DefaultWatchdog
	}
	w := &watchdog{every: every, stop: make(chan struct{}), done: make(chan struct{})}
	w.work = deferral.NewWork(func(*deferral.Work) { p.checkHang(r, every) })
	p.wdog = w
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				deferral.QueueWork(p.wq, w.work)
			}
		}
	}()
}

// stopWatchdog stops the ticker and waits for a check or reset in progress.
func (p *Port) stopWatchdog() {
	if w := p.wdog; w != nil {
		close(w.stop)
		<-w.done
		deferral.CancelWorkSync(w.work)
		p.wdog = nil
	}
}

// checkHang runs in the events workqueue. A device found hung (TX frames
// unsent for two periods, or its registers lost to a reset) is
// re-initialised; then its interrupt lines are unmasked and an RX interrupt
// raised so both halves pick up where they were.
func (p *Port) checkHang(r Resetter, every time.Duration) {
	if p.closing.Load() {
		return
	}
	why, hung := r.CheckHang(time.Now(), 2*every)
	if !hung {
		return
	}
	p.log.Warn("device hang detected; re-initialising it", zap.String("device", p.info.Name), zap.String("why", why))
	if err := r.Reinit(); err != nil {
		p.log.Error("device re-initialisation failed", zap.String("device", p.info.Name), zap.Error(err))
		return
	}
	p.pc.resets.Add(1)
	for _, v := range p.info.Vectors {
		if v.Unmask != nil {
			_ = v.Unmask()
		}
	}
	p.checkLink()
	for _, q := range p.queues {
		if q.vec >= 0 {
			p.trigger(q.vec)
		}
	}
}
