package igb_test

import (
	"context"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/internal/testframe"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabConformanceIGB runs the conformance kit against QEMU's igb (the
// 82576) through VFIO with MSI-X, one vector per queue, on a 2-vCPU guest,
// with 1 and with 2 queues (RSS on). The wire is a second NIC, 04.0, driven
// by the guest kernel's e1000 driver; the host cables the two by relaying the
// kit's frames between their peers.
func TestLabConformanceIGB(t *testing.T) {
	vm := labtest.Start(t, labtest.Options{
		Package: "./driver/igb",
		Run:     "^TestGuest(ConformanceIGB|QuirksIGB)$",
		VM: qemu.Config{
			IOMMU: true, CPUs: 2, Timeout: 10 * time.Minute, Hugepages: 16,
			NICs: []qemu.NIC{{Model: qemu.IGB}, {Model: qemu.E1000}},
			Bind: []qemu.Binding{
				{BDF: "0000:00:03.0", Driver: "vfio-pci"},
				{BDF: "0000:00:04.0", Driver: "e1000"},
			},
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Towards the wire the relay paces (qemu.Relay says why).
	go qemu.Relay(ctx, vm.Peer(0), drivertest.IsKitFrame, true, vm.Peer(1))
	go qemu.Relay(ctx, vm.Peer(1), drivertest.IsKitFrame, false, vm.Peer(0))
	labtest.Finish(t, vm)
}

// TestGuestConformanceIGB runs in the guest: the kit, each check on a
// freshly opened 82576, with 1 and 2 queues.
func TestGuestConformanceIGB(t *testing.T) {
	labtest.InGuest(t)
	wire := drivertest.OpenPacketWireAt(t, "0000:00:04.0")
	for _, queues := range []int{1, 2} {
		t.Run(map[int]string{1: "1queue", 2: "2queues"}[queues], func(t *testing.T) {
			drivertest.Run(t, func(t *testing.T) *drivertest.Harness {
				start := time.Now()
				dev, err := igb.Open("0000:00:03.0", igb.OpenOptions{NIC: igb.Options{Queues: queues}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { dev.Close() })
				up, mbps := dev.Link()
				t.Logf("opened in %v, link up %v at %d Mb/s", time.Since(start).Round(time.Millisecond), up, mbps)
				wire.Collect(0, 0) // what arrived late from the last check goes
				return &drivertest.Harness{NIC: dev, Buffers: dev.Buffers(), Wire: wire, LiveIRQ: true, Timeout: 5 * time.Second}
			})
		})
	}
}

// TestGuestQuirksIGB runs in the guest after the kit and shows that QEMU's
// igb needs two steps the driver takes: without the PHY auto-negotiation
// restart the link stays down after the reset and nothing is received; with
// RSS but without RXCSUM.PCSD every flow lands on queue 0.
func TestGuestQuirksIGB(t *testing.T) {
	labtest.InGuest(t)
	wire := drivertest.OpenPacketWireAt(t, "0000:00:04.0")
	defer igb.SetProbe(false, false)
	frames := func(dev *igb.Device) []int {
		for i := 0; i < 64; i++ {
			_ = wire.Send(kitLikeFrame(dev.MAC(), uint16(i)))
		}
		per := make([]int, dev.Info().Queues)
		var descs [64]driver.RxDesc
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			for q := range per {
				k := dev.RxBurst(q, descs[:])
				per[q] += k
				for _, d := range descs[:k] {
					dev.Buffers().Put(d.Buf)
				}
				dev.Refill(q)
			}
		}
		return per
	}

	igb.SetProbe(true, false)
	dev, err := igb.Open("0000:00:03.0", igb.OpenOptions{NIC: igb.Options{LinkWait: 1500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := dev.Link()
	got := frames(dev)
	dev.Close()
	t.Logf("without the auto-negotiation restart: link up %v, frames received %v", up, got)
	if up || got[0] != 0 {
		t.Errorf("QEMU brought the link up (%v) or received %v without an auto-negotiation restart: the driver's restart may be unneeded", up, got)
	}

	igb.SetProbe(false, true)
	dev, err = igb.Open("0000:00:03.0", igb.OpenOptions{NIC: igb.Options{Queues: 2}})
	if err != nil {
		t.Fatal(err)
	}
	got = frames(dev)
	dev.Close()
	t.Logf("RSS without RXCSUM.PCSD: frames per queue %v", got)
	if got[0] == 0 || got[1] != 0 {
		t.Errorf("RSS without PCSD spread frames over the queues (%v): PCSD may be unneeded in QEMU", got)
	}
}

// kitLikeFrame is a 64-byte test frame (internal/testframe) of flow to dst,
// as the conformance kit sends them, so that the host relays it.
func kitLikeFrame(dst []byte, flow uint16) []byte {
	return testframe.Build(make([]byte, 64), testframe.Frame{Dst: [6]byte(dst), Src: [6]byte{2, 0, 0, 0, 0, 2}, Flow: int(flow), Len: 64})
}
