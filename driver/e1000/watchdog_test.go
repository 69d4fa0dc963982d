package e1000_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
	"github.com/uiodrv/uiodrv/driver/intel"
	"github.com/uiodrv/uiodrv/handler"
)

// reflectedFrame is frame(seq) as Reflect sends it back.
func reflectedFrame(seq uint32) []byte { return drivertest.SwapMACs(frame(seq)) }

// pump receives frames [from, to) on the fake and collects what the port
// reflects, checking each byte for byte and in order.
func pump(t *testing.T, fake *e1000test.Device, from, to uint32) {
	t.Helper()
	for i := from; i < to; i++ {
		if !fake.Receive(frame(i)) {
			t.Fatalf("device refused frame %d (RCTL %#x)", i, fake.Reg(intel.RCTL))
		}
	}
	next := from
	for deadline := time.Now().Add(10 * time.Second); next < to; {
		for _, f := range fake.Transmit(0) {
			if !bytes.Equal(f, reflectedFrame(next)) {
				t.Fatalf("reflected frame %d differs: % x", next, f[:20])
			}
			next++
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of frames %d..%d reflected", next-from, from, to)
		}
		time.Sleep(time.Millisecond)
	}
}

func watchdogPort(t *testing.T) (*driver.Port, *e1000.Device, *e1000test.Device, *drivertest.MemAllocator) {
	t.Helper()
	dev, fake, alloc, _, _ := newTeardownDevice(t, e1000.Model82540EM, false)
	fake.SetLogging(false)
	port, err := driver.NewPort(dev, driver.Config{Mode: deferral.ModeBusyPoll, Handler: handler.Reflect{},
		IRQCPU: -1, BHCPU: -1, Watchdog: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return port, dev, fake, alloc
}

func waitResets(t *testing.T, port *driver.Port, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); port.Stats().Resets < n; {
		if time.Now().After(deadline) {
			t.Fatalf("watchdog found %d hangs, want %d", port.Stats().Resets, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWatchdogResetUnderDriver: the NIC is reset behind the driver's back
// (its registers back at power-up values); the watchdog finds it,
// re-initialises it, traffic resumes intact, and the port's counters go on.
func TestWatchdogResetUnderDriver(t *testing.T) {
	port, dev, fake, alloc := watchdogPort(t)
	pump(t, fake, 0, 20)
	time.Sleep(100 * time.Millisecond)
	if r := port.Stats().Resets; r != 0 {
		t.Fatalf("watchdog reset a healthy NIC %d times", r)
	}
	fake.Write32(uint32(intel.CTRL), intel.CTRL_RST) // the reset, as VFIO_DEVICE_RESET would
	if fake.Receive(frame(99)) {
		t.Fatal("the fake still receives after its reset")
	}
	waitResets(t, port, 1)
	pump(t, fake, 20, 40)
	st := port.Stats()
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Processed != 40 || st.TxPackets != 40 || st.HW.RxPackets != 40 || st.Resets != 1 || !st.Accounted() {
		t.Fatalf("after the reset: %v, resets %d", &st, st.Resets)
	}
	if alloc.Open() != 0 || dev.Pool().Available() != 0 && alloc.Open() != 0 {
		t.Fatalf("%d DMA regions open after Close", alloc.Open())
	}
}

// TestWatchdogTXHang: the NIC stops sending (the fake never processes its
// TX ring) with frames queued and the link up; the watchdog finds the hang,
// re-initialises the NIC, the queued frames' buffers come back, and the
// next frames are sent.
func TestWatchdogTXHang(t *testing.T) {
	port, dev, fake, _ := watchdogPort(t)
	free := dev.Pool().Available()
	for i := uint32(0); i < 10; i++ {
		fake.Receive(frame(i))
	}
	waitResets(t, port, 1)
	if tdh, tdt := fake.Reg(e1000.TDH(0)), fake.Reg(e1000.TDT(0)); tdh != tdt {
		t.Fatalf("TX ring not empty after the reset: TDH %d TDT %d", tdh, tdt)
	}
	pump(t, fake, 10, 30)
	time.Sleep(50 * time.Millisecond) // let the bottom half reclaim
	st := port.Stats()
	if st.Processed != 30 || st.Resets != 1 {
		t.Fatalf("%v, resets %d; want 30 processed, 1 reset", &st, st.Resets)
	}
	if got := dev.Pool().Available(); got != free {
		t.Fatalf("%d buffers free, want %d: the hung frames' buffers leaked", got, free)
	}
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
}
