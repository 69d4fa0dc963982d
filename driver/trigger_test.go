package driver

import (
	"testing"

	"github.com/uiodrv/uiodrv/deferral"
)

// withoutTrigger is the fake device with no software-raised interrupt: a
// NIC that is no Triggerer.
type withoutTrigger struct{ d *fakeDev }

func (w withoutTrigger) Queues() (NIC, Buffers)          { return w, w.d }
func (w withoutTrigger) Info() *NICInfo                  { return w.d.Info() }
func (w withoutTrigger) RxBurst(q int, out []RxDesc) int { return w.d.RxBurst(q, out) }
func (w withoutTrigger) Refill(q int) int                { return w.d.Refill(q) }
func (w withoutTrigger) TxBurst(q int, p []TxDesc) int   { return w.d.TxBurst(q, p) }
func (w withoutTrigger) Reclaim(q int) int               { return w.d.Reclaim(q) }
func (w withoutTrigger) AckIRQ(v int) Causes             { return w.d.AckIRQ(v) }
func (w withoutTrigger) SetIRQ(v int, c Causes, on bool) { w.d.SetIRQ(v, c, on) }
func (w withoutTrigger) ReadStats(s *NICStats)           { w.d.ReadStats(s) }
func (w withoutTrigger) Close() error                    { return w.d.Close() }

var _ NIC = withoutTrigger{}

// TestReflectWithoutTrigger: on a NIC without a software-raised interrupt,
// a queue whose refill found the pool empty (the fake's 256 buffers run out
// under 5000 frames) still recovers, through the core's own software
// interrupt: every frame comes back, in every interrupt mode and top half.
func TestReflectWithoutTrigger(t *testing.T) {
	if _, ok := NIC(withoutTrigger{}).(Triggerer); ok {
		t.Fatal("withoutTrigger is a Triggerer")
	}
	for _, mode := range deferral.Modes() {
		if mode == deferral.ModeBusyPoll {
			continue // no interrupts: the poll refills
		}
		for _, th := range []TopHalf{TopHalfCopy, TopHalfLight} {
			t.Run(mode.String()+"/"+th.String(), func(t *testing.T) { testReflect(t, mode, th, false, true) })
		}
	}
}
