package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/bus/bustest"
	"github.com/uiodrv/uiodrv/driver"
)

// bindTree is a machine with an e1000 on its kernel driver, an ICH9 AHCI
// controller (what q35 has at 00:1f.2) and a virtio NIC.
func bindTree(t *testing.T) bus.Sysfs {
	s := fakeSysfs(t, []string{"e1000", "ahci", "virtio-pci", "vfio-pci"}, "",
		fakeDev{"0000:00:03.0", "0x8086", e1000ID, netCls, "e1000", 3, ""},
		fakeDev{"0000:00:1f.2", "0x8086", "0x2922", "0x010601", "ahci", 9, ""},
		fakeDev{"0000:00:05.0", "0x1af4", "0x1000", netCls, "virtio-pci", 5, ""},
	)
	withKernel(t, s)
	return s
}

// snapshot is everything bind may write: drivers, driver_override,
// drivers_probe.
func snapshot(t *testing.T, s bus.Sysfs) string {
	t.Helper()
	var b strings.Builder
	for _, a := range []string{"0000:00:03.0", "0000:00:1f.2", "0000:00:05.0"} {
		drv, _ := s.CurrentDriver(bus.MustParseAddr(a))
		ov, _ := os.ReadFile(filepath.Join(s.DevicePath(bus.MustParseAddr(a)), "driver_override"))
		b.WriteString(a + "=" + drv + "/" + strings.TrimSpace(string(ov)) + " ")
	}
	probe, _ := os.ReadFile(filepath.Join(s.Root, "bus/pci/drivers_probe"))
	return b.String() + "probe=" + string(probe)
}

// bind refuses a disk controller and a NIC it does not drive before it
// writes anything: no driver_override, no unbind, not even the state folder.
func TestBindRefusesNonNIC(t *testing.T) {
	s := bindTree(t)
	state := filepath.Join(t.TempDir(), "run", "uiodrv")
	before := snapshot(t, s)
	for _, c := range []struct {
		dev  string
		want []string
		err  error
	}{
		{"0000:00:1f.2", []string{"0000:00:1f.2 is a SATA controller (class 0106): 8086:2922", "not binding it", "fix: check the address with uiodrv list --all"}, errNotNetwork},
		{"0000:00:05.0", []string{"Virtio network device, which uiodrv does not drive", "--force", "fix: uiodrv drives"}, driver.ErrUnsupportedDevice},
	} {
		for _, drv := range []string{"vfio-pci", "uio_pci_generic"} {
			code, out, errOut := runCLI("bind", "--dev", c.dev, "--driver", drv, "--sysfs", s.Root, "--state-dir", state)
			if code != exitFailure || out != "" {
				t.Errorf("bind %s to %s: exit %d, stdout %q; want 1 and nothing", c.dev, drv, code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("bind %s: stderr lacks %q:\n%s", c.dev, w, errOut)
				}
			}
			if strings.Contains(errOut, "]]") {
				t.Errorf("bind %s: doubled bracket in the refusal:\n%s", c.dev, errOut)
			}
		}
		dev, _ := s.Lookup(bus.MustParseAddr(c.dev))
		if err := bindable(dev); !errors.Is(err, c.err) {
			t.Errorf("bindable(%s) = %v, want %v", c.dev, err, c.err)
		}
	}
	if after := snapshot(t, s); after != before {
		t.Errorf("a refused bind wrote to sysfs:\n%s\nwas\n%s", after, before)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused bind created %s: %v", state, err)
	}

	// --force binds it (someone who means it), and unbind gives it back.
	code, out, errOut := runCLI("bind", "--dev", "0000:00:1f.2", "--force", "--sysfs", s.Root, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "ahci -> vfio-pci") || !strings.Contains(errOut, "warning: --force") {
		t.Errorf("bind --force: exit %d\n%s%s", code, out, errOut)
	}
	// unbind, too, leaves a device that is not a NIC alone without --force.
	before = snapshot(t, s)
	code, out, errOut = runCLI("unbind", "--dev", "0000:00:1f.2", "--sysfs", s.Root, "--state-dir", state)
	if code != exitFailure || out != "" || !strings.Contains(errOut, "not unbinding it") || snapshot(t, s) != before {
		t.Errorf("unbind of a SATA controller without --force: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI("unbind", "--dev", "0000:00:1f.2", "--force", "--sysfs", s.Root, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "vfio-pci -> ahci (restored)") {
		t.Errorf("unbind: exit %d\n%s%s", code, out, errOut)
	}
}

// The new driver refuses the device: bind gives it back to the old one,
// clears driver_override and drops the record. When even that fails, the
// record stays, and unbind restores the device once the cause is fixed.
func TestBindFailureRestores(t *testing.T) {
	s := bindTree(t)
	state := t.TempDir()
	a := bus.MustParseAddr("0000:00:03.0")
	refuse := func(drv string, on bool) {
		t.Helper()
		p := filepath.Join(s.DriverPath(drv), bustest.Refuse)
		if on {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	override := func() string {
		b, _ := os.ReadFile(filepath.Join(s.DevicePath(a), "driver_override"))
		return strings.TrimSpace(string(b))
	}

	refuse("vfio-pci", true)
	code, _, errOut := runCLI("bind", "--dev", a.String(), "--sysfs", s.Root, "--state-dir", state)
	if code != exitFailure || !strings.Contains(errOut, "bind failed") || !strings.Contains(errOut, "fix: see dmesg") {
		t.Errorf("bind to a refusing driver: exit %d\n%s", code, errOut)
	}
	if drv, _ := s.CurrentDriver(a); drv != "e1000" || override() != "(null)" {
		t.Errorf("after a failed bind: driver %q, driver_override %q; want e1000, (null)", drv, override())
	}
	if _, err := os.Stat(statePath(state, a)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record left after a failed bind that was undone: %v", err)
	}

	refuse("e1000", true) // and now the old driver will not take it back
	code, _, errOut = runCLI("bind", "--dev", a.String(), "--sysfs", s.Root, "--state-dir", state)
	if code != exitFailure || !strings.Contains(errOut, "previous driver not restored") ||
		!strings.Contains(errOut, "uiodrv unbind --dev "+a.String()+" gives it back") {
		t.Errorf("bind with no way back: exit %d\n%s", code, errOut)
	}
	if b, err := os.ReadFile(statePath(state, a)); err != nil || strings.TrimSpace(string(b)) != "e1000" {
		t.Fatalf("record after a failed restore: %q, %v; want e1000 kept", b, err)
	}
	if drv, _ := s.CurrentDriver(a); drv != "" || override() != "(null)" {
		t.Errorf("after a failed restore: driver %q, driver_override %q; want none, (null)", drv, override())
	}

	refuse("e1000", false)
	code, out, errOut := runCLI("unbind", "--dev", a.String(), "--sysfs", s.Root, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "-> e1000 (restored)") {
		t.Errorf("unbind after the cause was fixed: exit %d\n%s%s", code, out, errOut)
	}
	if drv, _ := s.CurrentDriver(a); drv != "e1000" {
		t.Errorf("driver after unbind = %q, want e1000", drv)
	}
	if _, err := os.Stat(statePath(state, a)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record left after a successful unbind: %v", err)
	}
}

// bind takes the igb-family NICs (checked by bindable, which reads sysfs
// only) and still refuses a NIC it does not drive.
func TestBindableIGB(t *testing.T) {
	s := fakeSysfs(t, []string{"igb", "vfio-pci"}, "",
		fakeDev{"0000:00:03.0", "0x8086", "0x10c9", netCls, "igb", 3, ""},   // 82576, QEMU's igb
		fakeDev{"0000:00:04.0", "0x8086", "0x1521", netCls, "igb", 4, ""},   // I350
		fakeDev{"0000:00:05.0", "0x8086", "0x1539", netCls, "igb", 5, ""},   // I211
		fakeDev{"0000:00:06.0", "0x8086", "0x10ca", netCls, "igbvf", 6, ""}, // 82576 VF: not driven
	)
	for _, c := range []struct {
		addr string
		ok   bool
	}{{"0000:00:03.0", true}, {"0000:00:04.0", true}, {"0000:00:05.0", true}, {"0000:00:06.0", false}} {
		dev, err := s.Lookup(bus.MustParseAddr(c.addr))
		if err != nil {
			t.Fatal(err)
		}
		if err := bindable(dev); (err == nil) != c.ok {
			t.Errorf("bindable(%s [%04x]) = %v, want ok %v", c.addr, dev.DeviceID, err, c.ok)
		}
	}
}
