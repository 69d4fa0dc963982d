package pci

import (
	"errors"
	"testing"

	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabPCI boots with the kernel's e1000 driver and uio_pci_generic
// loaded (no IOMMU) and runs TestGuestPCI*: listing and bind/restore
// against the real sysfs.
func TestLabPCI(t *testing.T) {
	labtest.Run(t, labtest.Options{
		Package: "./pci",
		Run:     "^TestGuestPCI",
		VM: qemu.Config{
			NICs:    []qemu.NIC{{Model: qemu.E1000, Addr: "03.0"}, {Model: qemu.E1000E, Addr: "04.0"}},
			Modules: []string{"e1000", "uio_pci_generic"},
		},
	})
}

func TestGuestPCIList(t *testing.T) {
	labtest.InGuest(t)
	devs, err := Sysfs{}.List()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]*Device{}
	for _, d := range devs {
		t.Log(d)
		found[d.Addr.String()] = d
	}
	e := found["0000:00:03.0"]
	if e == nil || e.Vendor != VendorIntel || e.DeviceID != 0x100e || !IsNetwork(e.Class) || e.Driver != "e1000" {
		t.Errorf("0000:00:03.0 = %v, want an 82540EM bound to e1000", e)
	}
	if e != nil && e.IOMMUGroup != -1 {
		t.Errorf("IOMMU group %d without an IOMMU", e.IOMMUGroup)
	}
	if ee := found["0000:00:04.0"]; ee == nil || ee.DeviceID != 0x10d3 || ee.Driver != "" {
		t.Errorf("0000:00:04.0 = %v, want an unbound 82574L (e1000e not loaded)", ee)
	}
}

func TestGuestPCIBindRestore(t *testing.T) {
	labtest.InGuest(t)
	s := Sysfs{}
	a := MustParseAddr("0000:00:03.0")
	b, err := s.Bind(a, "uio_pci_generic")
	if err != nil {
		t.Fatal(err)
	}
	if b.Previous != "e1000" {
		t.Errorf("Previous = %q, want e1000", b.Previous)
	}
	if drv, _ := s.CurrentDriver(a); drv != "uio_pci_generic" {
		t.Errorf("driver after Bind = %q", drv)
	}
	// Config space through sysfs: vendor, and bus mastering on and off.
	c, err := s.OpenConfig(a)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Read32(CfgVendorID); err != nil || v != 0x100e8086 {
		t.Errorf("vendor/device = %#x, %v", v, err)
	}
	if err := c.EnableBusMaster(); err != nil {
		t.Fatal(err)
	}
	if cmd, _ := c.Command(); cmd&(CmdMemory|CmdMaster) != CmdMemory|CmdMaster {
		t.Errorf("command %#x after EnableBusMaster", cmd)
	}
	if err := c.DisableBusMaster(); err != nil {
		t.Fatal(err)
	}
	if cmd, _ := c.Command(); cmd&CmdMaster != 0 {
		t.Errorf("command %#x after DisableBusMaster", cmd)
	}
	c.Close()

	if err := b.Restore(); err != nil {
		t.Fatal(err)
	}
	if drv, _ := s.CurrentDriver(a); drv != "e1000" {
		t.Errorf("driver after Restore = %q, want e1000", drv)
	}
	// Unbind leaves it without a driver; binding to a driver that is not
	// loaded says which module to load.
	if err := s.Unbind(a); err != nil {
		t.Fatal(err)
	}
	if drv, _ := s.CurrentDriver(a); drv != "" {
		t.Errorf("driver after Unbind = %q", drv)
	}
	if _, err := s.Bind(a, "vfio-pci"); !errors.Is(err, ErrNoDriver) {
		t.Errorf("Bind to vfio-pci (not loaded) = %v, want ErrNoDriver", err)
	}
	// The unbound 82574L binds to uio_pci_generic from no driver and back.
	b2, err := s.Bind(MustParseAddr("0000:00:04.0"), "uio_pci_generic")
	if err != nil || b2.Previous != "" {
		t.Fatalf("Bind 04.0 = %+v, %v", b2, err)
	}
	if err := b2.Restore(); err != nil {
		t.Fatal(err)
	}
	if drv, _ := s.CurrentDriver(MustParseAddr("0000:00:04.0")); drv != "" {
		t.Errorf("04.0 after Restore = %q, want none", drv)
	}
}
