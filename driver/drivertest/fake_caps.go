package drivertest

import (
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// The Fake claims the optional capabilities, so that the kit's checks of
// them run on it (and catch BugNoReset and BugNoFlush).
var (
	_ driver.Resetter  = (*Fake)(nil)
	_ driver.TxBatcher = (*Fake)(nil)
)

// SetTxBatch makes TxBurst announce frames only once batch wait, or the ring
// is full; FlushTx announces the rest (driver.TxBatcher).
func (f *Fake) SetTxBatch(batch int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batch = batch
}

// FlushTx announces queue q's waiting frames to the wire.
func (f *Fake) FlushTx(q int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bugs&BugNoFlush == 0 {
		f.queues[q].told = f.queues[q].tx.len()
	}
}

// CheckHang: the fake never hangs (driver.Resetter).
func (f *Fake) CheckHang(time.Time, time.Duration) (string, bool) { return "", false }

// Reinit resets the fake as a NIC reset does: every buffer its rings held
// (posted, received and not harvested, queued, sent and not reclaimed) goes
// back to the pool, and latched interrupt causes are forgotten.
func (f *Fake) Reinit() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bugs&BugNoReset != 0 {
		return nil
	}
	for q := range f.queues {
		qu := &f.queues[q]
		for b, ok := qu.posted.pop(); ok; b, ok = qu.posted.pop() {
			f.bufs.Put(b)
		}
		for d, ok := qu.done.pop(); ok; d, ok = qu.done.pop() {
			f.bufs.Put(d.Buf)
		}
		for d, ok := qu.tx.pop(); ok; d, ok = qu.tx.pop() {
			f.bufs.Put(d.Buf)
		}
		for b, ok := qu.txDone.pop(); ok; b, ok = qu.txDone.pop() {
			f.bufs.Put(b)
		}
		qu.told = 0
	}
	for v := range f.vecs {
		f.vecs[v].pending = 0
	}
	return nil
}
