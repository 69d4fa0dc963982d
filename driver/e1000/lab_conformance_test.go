package e1000_test

import (
	"context"
	"github.com/uiodrv/uiodrv/bus"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabConformance runs the conformance kit against the emulated e1000 and
// e1000e through VFIO with their real interrupts. The wire is a third NIC,
// 05.0, driven by the guest kernel's e1000 driver; the host cables it to both
// NICs under test by relaying the kit's frames between the peers.
func TestLabConformance(t *testing.T) {
	vm := labtest.Start(t, labtest.Options{
		Package: "./driver/e1000",
		Run:     "^TestGuestConformance$",
		VM: qemu.Config{
			IOMMU: true, Timeout: 10 * time.Minute, Hugepages: 16,
			NICs: []qemu.NIC{{Model: qemu.E1000}, {Model: qemu.E1000E}, {Model: qemu.E1000}},
			Bind: []qemu.Binding{
				{BDF: "0000:00:03.0", Driver: "vfio-pci"},
				{BDF: "0000:00:04.0", Driver: "vfio-pci"},
				{BDF: "0000:00:05.0", Driver: "e1000"},
			},
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wire := vm.Peer(2)
	for _, i := range []int{0, 1} {
		// What the NIC under test sends reaches the wire, paced (qemu.Relay).
		go qemu.Relay(ctx, vm.Peer(i), drivertest.IsKitFrame, true, wire)
	}
	go qemu.Relay(ctx, wire, drivertest.IsKitFrame, false, vm.Peer(0), vm.Peer(1)) // and the wire's frames reach both
	labtest.Finish(t, vm)
}

// TestGuestConformance runs in the guest: the kit, each check on a freshly
// opened NIC, for the e1000 (INTx) and the e1000e (MSI-X).
func TestGuestConformance(t *testing.T) {
	labtest.InGuest(t)
	wire := drivertest.OpenPacketWireAt(t, "0000:00:05.0")
	for _, n := range []struct {
		name, bdf string
		msix      bool
	}{{"e1000", "0000:00:03.0", false}, {"e1000e-msix", "0000:00:04.0", true}} {
		t.Run(n.name, func(t *testing.T) {
			drivertest.Run(t, func(t *testing.T) *drivertest.Harness {
				dev, err := e1000.Open(n.bdf, e1000.OpenOptions{Access: bus.Access{Backend: driver.BackendVFIO}, NIC: e1000.Options{MSIX: n.msix}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { dev.Close() })
				// QEMU's e1000 ignores RX for a second after RCTL is
				// written; whatever arrived late from the last check goes.
				time.Sleep(1200 * time.Millisecond)
				wire.Collect(0, 0)
				nic, bufs := dev.Queues()
				return &drivertest.Harness{NIC: nic, Buffers: bufs, Wire: wire, LiveIRQ: true, LossyWire: true, Timeout: 5 * time.Second}
			})
		})
	}
}
