package e1000_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/handler"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// The watchdog lab test: the e1000 reflects labResetFrames frames, is reset
// under the driver (VFIO_DEVICE_RESET from the test: a secondary bus reset,
// the e1000 being behind its own root port) while the port runs,
// the watchdog finds it and re-initialises it, and labResetFrames more
// frames are reflected intact by the same port, whose counters go on.
const labResetFrames = 2000

// labResetMidRun is the host side; it runs in TestLabTransmit's boot.
func labResetMidRun(t *testing.T, ctx context.Context, vm *qemu.VM) {
	n := labNICs[0]
	if _, err := vm.WaitOutput(ctx, 0, "LAB RESET READY"); err != nil {
		t.Fatal(err)
	}
	if err := exchangeFrom(vm.Peer(0), n.mac, 0, labResetFrames, labWindow); err != nil {
		t.Fatalf("before the reset: %v", err)
	}
	line, err := vm.WaitOutput(ctx, 0, "LAB RECOVERED")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(line)
	if err := exchangeFrom(vm.Peer(0), n.mac, labResetFrames, 2*labResetFrames, labWindow); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
	t.Logf("%s: %d frames reflected intact before and %d after a reset under the driver", n.model, labResetFrames, labResetFrames)
}

// TestGuestReset is the guest side.
func TestGuestReset(t *testing.T) {
	labtest.InGuest(t)
	bdf := labTxBDF(0)
	dev, err := e1000.Open(bdf, e1000.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	port, err := driver.NewPort(dev, driver.Config{Mode: deferral.ModeTasklet, Handler: handler.Reflect{}, IRQCPU: 0, BHCPU: 1})
	if err != nil {
		dev.Close()
		t.Fatal(err)
	}
	defer port.Close()
	time.Sleep(1200 * time.Millisecond) // QEMU's e1000 ignores RX for 1 s after RCTL is written
	fmt.Println("LAB RESET READY")
	wait := func(what string, cond func(*driver.Stats) bool) driver.Stats {
		for deadline := time.Now().Add(2 * time.Minute); ; {
			st := port.Stats()
			if cond(&st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %v", what, &st)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	before := wait("the first frames", func(s *driver.Stats) bool {
		return s.Processed >= labResetFrames && s.HW.TxPackets >= labResetFrames
	})
	how, err := e1000.ResetUnderDriver(dev)
	if err != nil {
		t.Fatalf("reset: %v", err)
	}
	fmt.Printf("LAB RESET by %s\n", how)
	if !strings.HasPrefix(how, "VFIO_DEVICE_RESET [") {
		// ResetUnderDriver fell back to clearing registers by hand: not the
		// real reset this test is for.
		t.Fatalf("no real reset: %s", how)
	}
	start := time.Now()
	for port.Stats().Resets < 1 {
		if time.Since(start) > 30*time.Second {
			why, hung := dev.CheckHang(time.Now(), 0)
			t.Fatalf("the watchdog did not re-initialise the NIC in 30 s; CheckHang now: %q, %v", why, hung)
		}
		time.Sleep(10 * time.Millisecond)
	}
	found := time.Since(start)
	time.Sleep(1200 * time.Millisecond) // RCTL was written again
	fmt.Printf("LAB RECOVERED: reset by %s, re-initialised by the watchdog after %v\n", how, found.Round(time.Millisecond))
	st := wait("the frames after the reset", func(s *driver.Stats) bool {
		return s.Processed >= 2*labResetFrames && s.TxPackets >= 2*labResetFrames
	})
	time.Sleep(100 * time.Millisecond)
	st = port.Stats()
	t.Logf("before the reset: %v", &before)
	t.Logf("after: %v; resets %d", &st, st.Resets)
	if st.Resets != 1 || st.RxPackets != 2*labResetFrames || st.Processed != 2*labResetFrames || st.Dropped() != 0 ||
		st.TxPackets != 2*labResetFrames || !st.Accounted() {
		t.Errorf("counters did not survive the reset: %v, resets %d", &st, st.Resets)
	}
	if err := port.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
