package pci

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/pci/pcitest"
)

var labDevs = []fakeDev{
	{addr: "0000:00:04.0", vendor: "0x8086", devID: "0x10d3", class: "0x020000", driver: "", group: 4, numa: "-1"},
	{addr: "0000:00:03.0", vendor: "0x8086", devID: "0x100e", class: "0x020000", driver: "e1000", group: 3, numa: "0"},
	{addr: "0000:00:00.0", vendor: "0x8086", devID: "0x29c0", class: "0x060000", driver: "", group: -1, numa: "-1"},
	{addr: "0000:00:05.0", vendor: "0x1d0f", devID: "0xec20", class: "0x0b4000", driver: "", group: 5, numa: "1"},
}

func TestList(t *testing.T) {
	t.Setenv(IDsEnv, "none") // the expected lines use the built-in names
	s := fakeSysfs(t, []string{"e1000", "vfio-pci"}, labDevs)
	devs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		addr   string
		line   string
		driver string
		group  int
		numa   int
		net    bool
	}{
		{"0000:00:00.0", "0000:00:00.0 Host bridge [0600]: Intel Corporation 82G33/G31/P35/P31 Express DRAM Controller [8086:29c0] driver=none iommu_group=none numa_node=-1", "", -1, -1, false},
		{"0000:00:03.0", "0000:00:03.0 Ethernet controller [0200]: Intel Corporation 82540EM Gigabit Ethernet Controller (e1000) [8086:100e] driver=e1000 iommu_group=3 numa_node=0", "e1000", 3, 0, true},
		{"0000:00:04.0", "0000:00:04.0 Ethernet controller [0200]: Intel Corporation 82574L Gigabit Network Connection (e1000e) [8086:10d3] driver=none iommu_group=4 numa_node=-1", "", 4, -1, true},
		{"0000:00:05.0", "0000:00:05.0 class 0b40 [0b40]: vendor 1d0f device ec20 [1d0f:ec20] driver=none iommu_group=5 numa_node=1", "", 5, 1, false},
	}
	if len(devs) != len(want) {
		t.Fatalf("List returned %d devices, want %d", len(devs), len(want))
	}
	for i, w := range want {
		d := devs[i]
		if d.Addr.String() != w.addr || d.Driver != w.driver || d.IOMMUGroup != w.group || d.NUMANode != w.numa || IsNetwork(d.Class) != w.net {
			t.Errorf("device %d = %+v, want %+v", i, d, w)
		}
		if got := d.String(); got != w.line {
			t.Errorf("String()\n got %s\nwant %s", got, w.line)
		}
	}
	if devs[1].SubsystemVendor != 0x1af4 || devs[1].SubsystemDevice != 0x1100 {
		t.Errorf("subsystem = %04x:%04x", devs[1].SubsystemVendor, devs[1].SubsystemDevice)
	}
}

func TestLookupErrors(t *testing.T) {
	s := fakeSysfs(t, nil, labDevs)
	if _, err := s.Lookup(MustParseAddr("0000:00:1f.0")); !errors.Is(err, ErrNoDevice) {
		t.Errorf("Lookup(missing) = %v, want ErrNoDevice", err)
	}
	if _, err := s.IOMMUGroup(MustParseAddr("0000:00:00.0")); !errors.Is(err, ErrNoIOMMUGroup) {
		t.Errorf("IOMMUGroup(no group) = %v, want ErrNoIOMMUGroup", err)
	}
	g, err := s.GroupDevices(3)
	if err != nil || len(g) != 1 || g[0].String() != "0000:00:03.0" {
		t.Errorf("GroupDevices(3) = %v, %v", g, err)
	}
	if _, err := (Sysfs{Root: t.TempDir()}).List(); err == nil {
		t.Error("List on an empty tree succeeded")
	}
}

func TestBindRestore(t *testing.T) {
	s := fakeSysfs(t, []string{"e1000", "vfio-pci"}, labDevs)
	a := MustParseAddr("0000:00:03.0")
	dev := s.DevicePath(a)

	b, err := s.Bind(a, "vfio-pci")
	if err != nil {
		t.Fatal(err)
	}
	if b.Previous != "e1000" || b.Driver != "vfio-pci" {
		t.Fatalf("binding = %+v", b)
	}
	if got := readTrim(t, filepath.Join(dev, "driver_override")); got != "vfio-pci" {
		t.Errorf("driver_override = %q", got)
	}
	if got := readTrim(t, filepath.Join(s.DriverPath("e1000"), "unbind")); got != a.String() {
		t.Errorf("e1000/unbind got %q", got)
	}
	if got := readTrim(t, filepath.Join(s.Root, "bus/pci/drivers_probe")); got != a.String() {
		t.Errorf("drivers_probe got %q", got)
	}
	if drv, _ := s.CurrentDriver(a); drv != "vfio-pci" {
		t.Fatalf("driver after Bind = %q", drv)
	}
	// Binding again is a no-op that remembers vfio-pci as the previous driver.
	if b2, err := s.Bind(a, "vfio-pci"); err != nil || b2.Previous != "vfio-pci" {
		t.Errorf("second Bind = %+v, %v", b2, err)
	}

	if err := b.Restore(); err != nil {
		t.Fatal(err)
	}
	if drv, _ := s.CurrentDriver(a); drv != "e1000" {
		t.Errorf("driver after Restore = %q, want e1000", drv)
	}
	if got := readTrim(t, filepath.Join(dev, "driver_override")); got != "(null)" {
		t.Errorf("driver_override after Restore = %q", got)
	}
	if got := readTrim(t, filepath.Join(s.DriverPath("e1000"), "bind")); got != a.String() {
		t.Errorf("e1000/bind got %q", got)
	}
}

func TestBindUnboundAndUnbind(t *testing.T) {
	s := fakeSysfs(t, []string{"e1000", "vfio-pci"}, labDevs)
	a := MustParseAddr("0000:00:04.0")
	b, err := s.Bind(a, "vfio-pci")
	if err != nil || b.Previous != "" {
		t.Fatalf("Bind = %+v, %v", b, err)
	}
	if err := s.Unbind(a); err != nil {
		t.Fatal(err)
	}
	if drv, _ := s.CurrentDriver(a); drv != "" {
		t.Errorf("driver after Unbind = %q", drv)
	}
	if err := s.Unbind(a); err != nil {
		t.Errorf("Unbind of an unbound device: %v", err)
	}
	// Restore to "no driver" leaves it unbound.
	if _, err := s.Bind(a, "vfio-pci"); err != nil {
		t.Fatal(err)
	}
	if err := b.Restore(); err != nil {
		t.Fatal(err)
	}
	if drv, _ := s.CurrentDriver(a); drv != "" {
		t.Errorf("driver after Restore = %q, want none", drv)
	}
}

func TestBindErrors(t *testing.T) {
	s := fakeSysfs(t, []string{"e1000", "vfio-pci"}, labDevs)
	_, err := s.Bind(MustParseAddr("0000:00:03.0"), "uio_pci_generic")
	if !errors.Is(err, ErrNoDriver) || !strings.Contains(err.Error(), "modprobe uio_pci_generic") {
		t.Errorf("Bind to unloaded driver = %v, want ErrNoDriver with a modprobe hint", err)
	}
	if _, err := s.Bind(MustParseAddr("0000:00:1f.0"), "vfio-pci"); !errors.Is(err, ErrNoDevice) {
		t.Errorf("Bind of missing device = %v, want ErrNoDevice", err)
	}
	// A kernel that ignores drivers_probe (the driver refuses the device).
	s.OnWrite = func(path, data string) {}
	if _, err := s.Bind(MustParseAddr("0000:00:04.0"), "vfio-pci"); !errors.Is(err, ErrBindFailed) {
		t.Errorf("Bind that the kernel ignored = %v, want ErrBindFailed", err)
	}
}

// A driver that refuses the device: Bind gives the device back to its
// previous driver and clears driver_override, so the device never stays on
// no driver.
func TestBindFailureRestores(t *testing.T) {
	s := fakeSysfs(t, []string{"e1000", "vfio-pci"}, labDevs)
	a := MustParseAddr("0000:00:03.0")
	refuse := func(drv string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(s.DriverPath(drv), pcitest.Refuse), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refuse("vfio-pci")
	b, err := s.Bind(a, "vfio-pci")
	if !errors.Is(err, ErrBindFailed) || errors.Is(err, ErrRestoreFailed) || b != nil {
		t.Fatalf("Bind to a refusing driver = %+v, %v; want ErrBindFailed, restored", b, err)
	}
	if drv, _ := s.CurrentDriver(a); drv != "e1000" {
		t.Errorf("driver after a failed Bind = %q, want e1000 back", drv)
	}
	if got := readTrim(t, filepath.Join(s.DevicePath(a), "driver_override")); got != "(null)" {
		t.Errorf("driver_override after a failed Bind = %q, want it cleared", got)
	}

	// The previous driver refuses the device too: the error says so.
	refuse("e1000")
	_, err = s.Bind(a, "vfio-pci")
	if !errors.Is(err, ErrBindFailed) || !errors.Is(err, ErrRestoreFailed) || !strings.Contains(err.Error(), "e1000/bind") {
		t.Fatalf("Bind with no way back = %v; want ErrBindFailed and ErrRestoreFailed naming e1000/bind", err)
	}
	if got := readTrim(t, filepath.Join(s.DevicePath(a), "driver_override")); got != "(null)" {
		t.Errorf("driver_override after a failed restore = %q, want it cleared", got)
	}
}
