package igb_test

import (
	"bytes"
	"encoding/binary"
	"github.com/uiodrv/uiodrv/handler"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/igb/igbtest"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// opened is a fake NIC and its pool as driver.NewPort takes them.
type opened struct{ f *fakeNIC }

func (o opened) Queues() (driver.NIC, driver.Buffers) { return o.f.nic, o.f.pool }

// seqFrame is a broadcast frame numbered seq.
func seqFrame(seq uint32) []byte {
	f := make([]byte, 60)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 9, 0x88, 0xb5})
	binary.BigEndian.PutUint32(f[20:], seq)
	return f
}

// pumpIGB receives frames [from, to) and checks that the port reflects each
// byte for byte, in order.
func pumpIGB(t *testing.T, dev *igbtest.Device, from, to uint32) {
	t.Helper()
	for i := from; i < to; i++ {
		if !dev.Receive(seqFrame(i)) {
			t.Fatalf("device refused frame %d", i)
		}
	}
	var got [][]byte
	for deadline := time.Now().Add(10 * time.Second); len(got) < int(to-from) && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		got = append(got, dev.Transmit()...)
	}
	for i, f := range got {
		if want := drivertest.SwapMACs(seqFrame(from + uint32(i))); !bytes.Equal(f, want) {
			t.Fatalf("reflected frame %d differs: % x", from+uint32(i), f[:24])
		}
	}
	if len(got) != int(to-from) {
		t.Fatalf("%d of frames %d..%d reflected", len(got), from, to)
	}
}

// TestWatchdogResetUnderDriver: the 82576 is reset behind the driver's back
// (registers at power-up values, as VFIO_DEVICE_RESET leaves them); the
// port's watchdog finds it through igb's CheckHang, Reinit brings it back,
// traffic resumes intact and the counters carry on across the reset.
func TestWatchdogResetUnderDriver(t *testing.T) {
	f := newFakeNIC(t, igb.Options{})
	f.dev.SetLogging(false)
	port, err := driver.NewPort(opened{f}, driver.Config{Mode: deferral.ModeBusyPoll, Handler: handler.Reflect{},
		IRQCPU: -1, BHCPU: -1, Watchdog: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pumpIGB(t, f.dev, 0, 20)
	time.Sleep(100 * time.Millisecond)
	if r := port.Stats().Resets; r != 0 {
		t.Fatalf("watchdog reset a healthy NIC %d times", r)
	}
	f.dev.Write32(uint32(intel.CTRL), intel.CTRL_RST)
	if f.dev.Receive(seqFrame(99)) {
		t.Fatal("the fake still receives after its reset")
	}
	for deadline := time.Now().Add(5 * time.Second); port.Stats().Resets < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the watchdog never found the reset")
		}
	}
	pumpIGB(t, f.dev, 20, 40)
	st := port.Stats()
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Processed != 40 || st.TxPackets != 40 || st.HW.RxPackets != 40 || st.Resets != 1 || !st.Accounted() {
		t.Fatalf("after the reset: %v, resets %d", &st, st.Resets)
	}
}
