package e1000_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/internal/testframe"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

const labTxFrames = 3000

// TestLabTransmit: frames the driver transmits on its own (a packet
// generator's path, Port.Transmit) all reach the host peer, in order and
// intact (test frames of lengths 60 to 1059, checked byte for byte). The
// same boot first runs the watchdog test (lab_reset_test.go): a real reset
// under the driver mid-run (the e1000 sits behind its own PCIe root port, so
// VFIO_DEVICE_RESET is a secondary bus reset), recovered, traffic intact.
func TestLabTransmit(t *testing.T) {
	cfg := qemu.Config{
		IOMMU: true, Timeout: 6 * time.Minute,
		NICs: []qemu.NIC{{Model: qemu.E1000, RootPort: true}, {Model: qemu.E1000E}},
	}
	bdfs := []string{cfg.BDF(0), cfg.BDF(1)}
	cfg.Bind = []qemu.Binding{{BDF: bdfs[0], Driver: "vfio-pci"}, {BDF: bdfs[1], Driver: "vfio-pci"}}
	vm := labtest.Start(t, labtest.Options{
		Package: "./driver/e1000",
		Run:     "^TestGuest(Transmit|Reset)$",
		Env:     []string{"LAB_BDFS=" + strings.Join(bdfs, ",")},
		VM:      cfg,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The guest runs TestGuestReset first (files in name order).
	labResetMidRun(t, ctx, vm)
	buf := make([]byte, 4096)
	for i, n := range labNICs {
		if _, err := vm.WaitOutput(ctx, 0, "LAB TX "+bdfs[i]); err != nil {
			t.Fatal(err)
		}
		// Traffic in the other direction at the same time, which the guest counts.
		for j := 0; j < 100; j++ {
			if err := vm.Peer(i).Send(labFrame(j, n.mac)); err != nil {
				t.Fatal(err)
			}
		}
		next := 0
		for next < labTxFrames {
			k, err := vm.Peer(i).RecvInto(buf, time.Now().Add(10*time.Second))
			if err != nil {
				t.Fatalf("%s: %d of %d frames arrived: %v", n.model, next, labTxFrames, err)
			}
			// A test frame (labFrameOf: 64 flows, lengths 60-1059), checked
			// byte for byte, from the NIC to the host, in order.
			fr, ok, err := testframe.Check(buf[:k])
			if !ok || err != nil {
				t.Fatalf("%s: unexpected frame of %d bytes (%v): % x", n.model, k, err, buf[:min(k, 32)])
			}
			if want := labFrameOf(next, labSrcMAC, n.mac); fr != want {
				t.Fatalf("%s: frame %+v arrived when %+v was due", n.model, fr, want)
			}
			next++
		}
		t.Logf("%s: %d transmitted frames arrived in order", n.model, labTxFrames)
	}
	labtest.Finish(t, vm)
}

func TestGuestTransmit(t *testing.T) {
	labtest.InGuest(t)
	for i := range labNICs {
		bdf := labTxBDF(i)
		dev, err := e1000.Open(bdf, e1000.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		port, err := driver.NewPort(dev, driver.Config{Mode: deferral.ModeTasklet, IRQCPU: 0, BHCPU: 1})
		time.Sleep(1200 * time.Millisecond) // QEMU's e1000 ignores RX for 1 s after RCTL is written
		if err != nil {
			dev.Close()
			t.Fatal(err)
		}
		fmt.Printf("LAB TX %s\n", bdf)
		// Test frames to the host peer (labFrameOf), rebuilt for each send.
		var mac [6]byte
		copy(mac[:], dev.MAC())
		bufs, frames := make([][]byte, 32), make([][]byte, 32)
		for i := range bufs {
			bufs[i] = make([]byte, testframe.MaxLen)
		}
		sent := 0
		for deadline := time.Now().Add(time.Minute); sent < labTxFrames && time.Now().Before(deadline); {
			k := min(len(frames), labTxFrames-sent)
			for i := 0; i < k; i++ {
				frames[i] = testframe.Build(bufs[i], labFrameOf(sent+i, labSrcMAC, mac))
			}
			m, err := port.Transmit(frames[:k])
			if err != nil {
				port.Close()
				t.Fatal(err)
			}
			sent += m
			if m < k {
				time.Sleep(time.Millisecond)
			}
		}
		for deadline := time.Now().Add(10 * time.Second); (port.Stats().HW.TxPackets < labTxFrames || port.Stats().RxPackets < 100) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		st := port.Stats()
		port.Close()
		t.Logf("%s: %v", bdf, &st)
		if sent != labTxFrames || st.TxPackets != labTxFrames || st.HW.TxPackets != labTxFrames || st.RxPackets != 100 {
			t.Errorf("%s: sent %d, stats %v", bdf, sent, &st)
		}
	}
}

// labTxBDF is where TestLabTransmit's boot put labNICs[i] (LAB_BDFS): the
// e1000 behind its root port is not at labNICs[0].bdf.
func labTxBDF(i int) string {
	if b := strings.Split(os.Getenv("LAB_BDFS"), ","); len(b) == len(labNICs) {
		return b[i]
	}
	return labNICs[i].bdf
}
