package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/bus/bustest"
	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/rt"
)

// The checks made before a device is opened, on a fake sysfs tree.

// fakeDev is one device of a fake sysfs tree.
type fakeDev struct {
	addr, vendor, device, class, driver string
	group                               int // -1: none
	iface                               string
}

// fakeSysfs lays out a sysfs tree like the kernel's under a temporary
// folder: devices, drivers, IOMMU groups, interfaces and hugepages.
func fakeSysfs(t *testing.T, drivers []string, freeHuge string, devs ...fakeDev) bus.Sysfs {
	t.Helper()
	root := t.TempDir()
	mk := func(p, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(root, "bus/pci/drivers_probe"), "")
	if err := os.MkdirAll(filepath.Join(root, "bus/pci/devices"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range drivers {
		mk(filepath.Join(root, "bus/pci/drivers", d, "bind"), "")
		mk(filepath.Join(root, "bus/pci/drivers", d, "unbind"), "")
	}
	if freeHuge != "" {
		mk(filepath.Join(root, "kernel/mm/hugepages/hugepages-2048kB/free_hugepages"), freeHuge+"\n")
	}
	for _, d := range devs {
		dir := filepath.Join(root, "bus/pci/devices", d.addr)
		for k, v := range map[string]string{"vendor": d.vendor, "device": d.device, "class": d.class,
			"subsystem_vendor": "0x8086", "subsystem_device": "0x001e", "numa_node": "-1", "driver_override": "(null)"} {
			mk(filepath.Join(dir, k), v+"\n")
		}
		if d.driver != "" {
			link(filepath.Join(root, "bus/pci/drivers", d.driver), filepath.Join(dir, "driver"))
		}
		if d.group >= 0 {
			g := filepath.Join(root, "kernel/iommu_groups", fmt.Sprint(d.group))
			link(dir, filepath.Join(g, "devices", d.addr))
			link(g, filepath.Join(dir, "iommu_group"))
		}
		if d.iface != "" {
			mk(filepath.Join(dir, "net", d.iface, "flags"), "0x1003\n")
			link(filepath.Join(dir, "net", d.iface), filepath.Join(root, "class/net", d.iface))
		}
	}
	return bus.Sysfs{Root: root, OnWrite: bustest.Kernel(root)}
}

// withKernel makes the commands that take --sysfs see the fake kernel of
// the tree at s.Root, until the test ends.
func withKernel(t *testing.T, s bus.Sysfs) {
	t.Helper()
	old := newSysfs
	newSysfs = func(root string) bus.Sysfs { return bus.Sysfs{Root: root, OnWrite: bustest.Kernel(root)} }
	t.Cleanup(func() { newSysfs = old })
}

const (
	e1000ID = "0x100e"
	netCls  = "0x020000"
)

func TestCheckDevice(t *testing.T) {
	vfioDevDir = t.TempDir()
	defer func() { vfioDevDir = bus.DefaultVFIODir }()
	for _, n := range []string{"vfio", "3"} {
		if err := os.WriteFile(filepath.Join(vfioDevDir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := fakeSysfs(t, []string{"vfio-pci", "e1000", "virtio-pci"}, "",
		fakeDev{"0000:00:03.0", "0x8086", e1000ID, netCls, "vfio-pci", 3, ""},
		fakeDev{"0000:00:04.0", "0x8086", e1000ID, netCls, "e1000", 4, "eth1"},
		fakeDev{"0000:00:05.0", "0x1af4", "0x1000", netCls, "virtio-pci", 5, "eth0"},
		fakeDev{"0000:00:06.0", "0x8086", e1000ID, netCls, "vfio-pci", -1, ""},
		fakeDev{"0000:00:07.0", "0x8086", e1000ID, netCls, "vfio-pci", 7, ""},
		fakeDev{"0000:00:07.1", "0x8086", e1000ID, netCls, "e1000", 7, ""},
		fakeDev{"0000:00:08.0", "0x8086", e1000ID, netCls, "", 8, ""},
		fakeDev{"0000:00:0a.0", "0x8086", e1000ID, netCls, "vfio-pci", 10, ""},
	)
	vf, ui := driver.BackendVFIO, driver.BackendUIO
	cases := []struct {
		dev     string
		backend driver.Backend
		err     error
		msg     string
	}{
		{"0000:00:03.0", vf, nil, ""},
		{"0000:00:09.0", vf, bus.ErrNoDevice, "no such device"},
		{"0000:00:05.0", vf, nil, "not a NIC uiodrv drives"}, // ErrUnsupportedDevice, checked by message below
		{"0000:00:04.0", vf, bus.ErrVFIONotBound, "is bound to e1000 (uiodrv bind --dev 0000:00:04.0 --driver vfio-pci)"},
		{"0000:00:08.0", vf, bus.ErrVFIONotBound, "is bound to no driver"},
		{"0000:00:06.0", vf, bus.ErrNoIOMMUGroup, "iommu_group"},
		{"0000:00:0a.0", vf, bus.ErrVFIONotBound, "/10: no such file"}, // group 10 has no /dev/vfio/10
		{"0000:00:03.0", ui, errNoModule, "drivers/uio_pci_generic is missing"},
	}
	for _, c := range cases {
		_, err := checkDevice(s, target{addr: bus.MustParseAddr(c.dev), backend: c.backend})
		switch {
		case c.msg == "" && err != nil:
			t.Errorf("%s %v: %v", c.dev, c.backend, err)
		case c.msg != "" && err == nil:
			t.Errorf("%s %v: no error, want %q", c.dev, c.backend, c.msg)
		case err != nil && (c.err != nil && !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg)):
			t.Errorf("%s %v: %v, want %v containing %q", c.dev, c.backend, err, c.err, c.msg)
		case err != nil && hintFor(err) == "":
			t.Errorf("%s %v: %v has no fix", c.dev, c.backend, err)
		}
	}
	// Nothing was changed: drivers are as they were.
	for dev, want := range map[string]string{"0000:00:04.0": "e1000", "0000:00:08.0": "", "0000:00:03.0": "vfio-pci"} {
		if got, _ := s.CurrentDriver(bus.MustParseAddr(dev)); got != want {
			t.Errorf("%s: driver %q after checks, want %q", dev, got, want)
		}
	}
}

func TestCheckMemoryAndSched(t *testing.T) {
	s := fakeSysfs(t, nil, "2")
	none := fakeSysfs(t, nil, "")
	vf := target{backend: driver.BackendVFIO}
	ui := target{backend: driver.BackendUIO}
	root := limits{capIPCLock: true, capSysNice: true}
	user := limits{memlock: 8 << 20, rtprio: 0, nice: 0}
	if err := checkMemory(s, root, []target{vf}); err != nil {
		t.Errorf("root, VFIO: %v", err)
	}
	if err := checkMemory(s, user, []target{vf}); err != nil {
		t.Errorf("8 MiB memlock, VFIO: %v", err)
	}
	low := limits{memlock: 64 << 10}
	if err := checkMemory(s, low, []target{vf}); !errors.Is(err, errRLimitMemlock) || !strings.Contains(hintFor(err), "ulimit -l") {
		t.Errorf("64 KiB memlock: %v", err)
	}
	if err := checkMemory(s, low, []target{vf, vf, vf}); !errors.Is(err, errRLimitMemlock) {
		t.Errorf("three devices: %v", err)
	}
	if err := checkMemory(s, root, []target{ui}); !errors.Is(err, errNoHugepages) || !strings.Contains(err.Error(), "2 free") {
		t.Errorf("UIO with 2 free hugepages: %v", err)
	}
	if err := checkMemory(none, root, []target{ui}); !errors.Is(err, errNoHugepages) {
		t.Errorf("UIO without hugepage support: %v", err)
	}
	if err := checkMemory(fakeSysfs(t, nil, "64"), root, []target{ui}); err != nil {
		t.Errorf("UIO with 64 hugepages: %v", err)
	}

	if err := checkSched(root, deferral.ModeThreaded, 99, 0); err != nil {
		t.Errorf("root: %v", err)
	}
	if err := checkSched(user, deferral.ModeTasklet, 0, 0); err != nil {
		t.Errorf("tasklet, no RT: %v", err)
	}
	for _, c := range []struct {
		mode       deferral.Mode
		rt, thread int
		err        error
	}{
		{deferral.ModeTasklet, 50, 0, rt.ErrRTNotPermitted},
		{deferral.ModeThreaded, 0, 0, rt.ErrRTNotPermitted}, // the IRQ thread is SCHED_FIFO 50
		{deferral.ModeWorkqueue, 0, 0, rt.ErrNiceNotPermitted},
	} {
		if err := checkSched(user, c.mode, c.rt, c.thread); !errors.Is(err, c.err) || hintFor(err) == "" {
			t.Errorf("%v rt %d: %v, want %v", c.mode, c.rt, err, c.err)
		}
	}
	if err := checkSched(user, deferral.ModeThreaded, 0, -1); err != nil {
		t.Errorf("threaded at SCHED_OTHER: %v", err)
	}
	if err := checkSched(limits{rtprio: 60}, deferral.ModeThreaded, 0, 0); err != nil {
		t.Errorf("RLIMIT_RTPRIO 60: %v", err)
	}
}
