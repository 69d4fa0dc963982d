package pci

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/pci/pcitest"
)

// fakeDev describes one device in a fake sysfs tree.
type fakeDev struct {
	addr          string
	vendor, devID string
	class         string
	driver        string
	group         int // -1: no IOMMU group
	numa          string
}

// fakeSysfs builds a sysfs tree under t.TempDir() laid out like the kernel's
// and a kernel hook that reacts to unbind, bind and drivers_probe writes.
func fakeSysfs(t *testing.T, drivers []string, devs []fakeDev) Sysfs {
	t.Helper()
	root := t.TempDir()
	mk := func(p string, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(root, "bus/pci/drivers_probe"), "")
	for _, d := range drivers {
		mk(filepath.Join(root, "bus/pci/drivers", d, "bind"), "")
		mk(filepath.Join(root, "bus/pci/drivers", d, "unbind"), "")
	}
	for _, d := range devs {
		dir := filepath.Join(root, "bus/pci/devices", d.addr)
		mk(filepath.Join(dir, "vendor"), d.vendor+"\n")
		mk(filepath.Join(dir, "device"), d.devID+"\n")
		mk(filepath.Join(dir, "subsystem_vendor"), "0x1af4\n")
		mk(filepath.Join(dir, "subsystem_device"), "0x1100\n")
		mk(filepath.Join(dir, "class"), d.class+"\n")
		mk(filepath.Join(dir, "numa_node"), d.numa+"\n")
		mk(filepath.Join(dir, "driver_override"), "(null)\n")
		if d.driver != "" {
			if err := os.Symlink(filepath.Join(root, "bus/pci/drivers", d.driver), filepath.Join(dir, "driver")); err != nil {
				t.Fatal(err)
			}
		}
		if d.group >= 0 {
			g := filepath.Join(root, "kernel/iommu_groups", strconv.Itoa(d.group))
			if err := os.MkdirAll(filepath.Join(g, "devices"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(dir, filepath.Join(g, "devices", d.addr)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(g, filepath.Join(dir, "iommu_group")); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A stray entry that is not a device must be ignored by List.
	mk(filepath.Join(root, "bus/pci/devices", "README"), "")

	return Sysfs{Root: root, OnWrite: pcitest.Kernel(root)}
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
