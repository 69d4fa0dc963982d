package uiodrv

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
)

// fakeTree is a sysfs tree with one device per PCI ID, at 0000:00:0N.0.
func fakeTree(t *testing.T, ids ...[2]string) bus.Sysfs {
	t.Helper()
	root := t.TempDir()
	for i, id := range ids {
		dir := filepath.Join(root, "bus/pci/devices", "0000:00:0"+string(rune('3'+i))+".0")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{"vendor": id[0], "device": id[1], "class": "0x020000",
			"subsystem_vendor": "0x8086", "subsystem_device": "0x001e", "numa_node": "-1", "driver_override": "(null)"} {
			if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return bus.Sysfs{Root: root}
}

// Probe finds a device's family and model from its PCI ID in sysfs, for
// every family driver/all links in, and refuses what no family drives.
func TestProbe(t *testing.T) {
	s := fakeTree(t, [2]string{"0x8086", "0x100e"}, [2]string{"0x8086", "0x10c9"}, [2]string{"0x1af4", "0x1000"})
	for _, c := range []struct {
		addr, family, model string
		err                 error
	}{
		{"0000:00:03.0", "e1000", "82540EM", nil},
		{"0000:00:04.0", "igb", "82576", nil},
		{"0000:00:05.0", "", "", driver.ErrUnsupportedDevice},
		{"0000:00:06.0", "", "", bus.ErrNoDevice},
		{"00:03", "", "", bus.ErrBadAddress},
	} {
		f, err := ProbeSysfs(s, c.addr)
		switch {
		case c.err != nil:
			if !errors.Is(err, c.err) || f != nil {
				t.Errorf("%s: %v, %v; want %v", c.addr, f, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.addr, err)
		case f.Family.Name != c.family || f.Model.Name != c.model || f.Addr.String() != c.addr || f.Device == nil:
			t.Errorf("%s: found %s %s at %v", c.addr, f.Family.Name, f.Model.Name, f.Addr)
		}
	}
	f, err := ProbeSysfs(s, "0000:00:03.0")
	if err != nil {
		t.Fatal(err)
	}
	var oe *driver.OptionError
	if err := f.Check(driver.OpenOptions{Queues: 2}); !errors.As(err, &oe) || oe.Option != "Queues" {
		t.Errorf("two queues on an 82540EM: %v", err)
	}
	// Open checks first: a refused option never reaches the family's Open.
	if d, err := f.Open(driver.OpenOptions{MSIX: true}); d != nil || !errors.As(err, &oe) || oe.Option != "MSIX" {
		t.Errorf("MSI-X on an 82540EM: %v, %v", d, err)
	}
}
