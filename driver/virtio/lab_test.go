package virtio_test

import (
	"context"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/virtio"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabConformanceVirtio runs the conformance kit against QEMU's
// virtio-net-pci (modern only, ACCESS_PLATFORM behind intel-iommu) through
// VFIO with an MSI-X vector per queue pair. The wire is a second NIC, 04.0,
// driven by the guest kernel's e1000 driver; the host cables the two by
// relaying the kit's frames between their peers.
func TestLabConformanceVirtio(t *testing.T) {
	vm := labtest.Start(t, labtest.Options{
		Package: "./driver/virtio",
		Run:     "^TestGuestConformanceVirtio$",
		VM: qemu.Config{
			IOMMU: true, CPUs: 2, Timeout: 10 * time.Minute, Hugepages: 16,
			NICs: []qemu.NIC{{Model: qemu.VirtioNet}, {Model: qemu.E1000}},
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

// TestGuestConformanceVirtio runs in the guest: the kit, each check on a
// freshly opened virtio-net device.
func TestGuestConformanceVirtio(t *testing.T) {
	labtest.InGuest(t)
	wire := drivertest.OpenPacketWireAt(t, "0000:00:04.0")
	drivertest.Run(t, func(t *testing.T) *drivertest.Harness {
		start := time.Now()
		dev, err := virtio.Open("0000:00:03.0", virtio.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dev.Close() })
		t.Logf("opened in %v", time.Since(start).Round(time.Millisecond))
		wire.Collect(0, 0) // what arrived late from the last check goes
		return &drivertest.Harness{NIC: dev, Buffers: dev.Buffers(), Wire: wire, LiveIRQ: true, Timeout: 5 * time.Second}
	})
}
