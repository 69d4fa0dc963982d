package e1000_test

import (
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/handler"
)

// TestBusyPollBatchesDoorbell: a busy-polling (or adaptive) port reflecting
// 40 frames in polls of 8 rings the TX doorbell once at 32 queued frames and
// once for the last 8 when its polls run empty: 2 TDT writes, not one per
// poll (5), and every frame leaves intact and in order.
func TestBusyPollBatchesDoorbell(t *testing.T) {
	for _, mode := range []deferral.Mode{deferral.ModeBusyPoll, deferral.ModeAdaptive} {
		t.Run(mode.String(), func(t *testing.T) { testBatchesDoorbell(t, mode) })
	}
}

func testBatchesDoorbell(t *testing.T, mode deferral.Mode) {
	dev, fake, _, _, _ := newTeardownDevice(t, e1000.Model82540EM, false)
	fake.SetLogging(false)
	const frames = 40
	for i := uint32(0); i < frames; i++ {
		if !fake.Receive(frame(i)) {
			t.Fatalf("device refused frame %d", i)
		}
	}
	tdt := fake.WriteCount(e1000.TDT(0))
	port, err := driver.NewPort(dev, driver.Config{Mode: mode, Handler: handler.Reflect{},
		IRQCPU: -1, BHCPU: -1, Budget: 8, Watchdog: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	next := uint32(0)
	for deadline := time.Now().Add(10 * time.Second); next < frames; {
		for _, f := range fake.Transmit(0) {
			if string(f) != string(reflectedFrame(next)) {
				t.Fatalf("reflected frame %d differs: % x", next, f[:20])
			}
			next++
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d frames reflected", next, frames)
		}
		time.Sleep(time.Millisecond)
	}
	if got := fake.WriteCount(e1000.TDT(0)) - tdt; got != 2 {
		t.Fatalf("%d TDT writes for %d frames in polls of 8, want 2 (at %d queued, then the idle flush)",
			got, frames, driver.TxDoorbellBatch)
	}
}
