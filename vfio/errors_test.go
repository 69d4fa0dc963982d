package vfio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/pci"
)

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		sentinel error
		errno    error
		mentions []string
	}{
		{"group EACCES", errOpenGroup("/dev/vfio/3", unix.EACCES), ErrPermission, unix.EACCES, []string{"/dev/vfio/3"}},
		{"group EPERM", errOpenGroup("/dev/vfio/3", unix.EPERM), ErrPermission, unix.EPERM, []string{"/dev/vfio/3"}},
		{"group EBUSY", errOpenGroup("/dev/vfio/3", unix.EBUSY), ErrGroupBusy, unix.EBUSY, []string{"/dev/vfio/3"}},
		{"group ENOENT", errOpenGroup("/dev/vfio/3", unix.ENOENT), ErrNotBound, unix.ENOENT, []string{"/dev/vfio/3", "vfio-pci"}},
		{"set IOMMU EPERM", errSetIOMMU(Type1v2IOMMU, unix.EPERM), ErrNoInterruptRemapping, unix.EPERM, []string{"intremap", "allow_unsafe_interrupts"}},
		{"map DMA ENOMEM", errMapDMA(0x100000, 4096, unix.ENOMEM), ErrMemlock, unix.ENOMEM, []string{"RLIMIT_MEMLOCK", "0x100000", "ulimit -l"}},
		{"no vfio", errNoVFIO("/dev/vfio/vfio", os.ErrNotExist), ErrNoVFIO, os.ErrNotExist, []string{"/dev/vfio/vfio", "modprobe vfio-pci"}},
		{"hugepages", errHugepages(2<<20, unix.ENOMEM), ErrNoHugepages, unix.ENOMEM, []string{"nr_hugepages"}},
	} {
		if !errors.Is(tc.err, tc.sentinel) {
			t.Errorf("%s: %v is not %v", tc.name, tc.err, tc.sentinel)
		}
		if !errors.Is(tc.err, tc.errno) {
			t.Errorf("%s: %v does not wrap %v", tc.name, tc.err, tc.errno)
		}
		for _, m := range tc.mentions {
			if !strings.Contains(tc.err.Error(), m) {
				t.Errorf("%s: %q does not mention %q", tc.name, tc.err, m)
			}
		}
	}
	// Errors that are none of the above wrap no sentinel.
	for _, err := range []error{errOpenGroup("/dev/vfio/3", unix.EIO), errSetIOMMU(1, unix.EINVAL), errMapDMA(0, 1, unix.EEXIST)} {
		for _, s := range []error{ErrPermission, ErrGroupBusy, ErrNotBound, ErrNoInterruptRemapping, ErrMemlock} {
			if errors.Is(err, s) {
				t.Errorf("%v wraps %v", err, s)
			}
		}
	}
}

// fakeTree is a minimal sysfs and /dev/vfio for Open's checks.
type fakeTree struct {
	sysfs  pci.Sysfs
	devDir string
}

func newFakeTree(t *testing.T, vfioLoaded bool) *fakeTree {
	t.Helper()
	root := t.TempDir()
	ft := &fakeTree{sysfs: pci.Sysfs{Root: filepath.Join(root, "sys")}, devDir: filepath.Join(root, "dev/vfio")}
	must(t, os.MkdirAll(ft.devDir, 0o755))
	if vfioLoaded {
		must(t, os.WriteFile(filepath.Join(ft.devDir, "vfio"), nil, 0o644))
	}
	for _, d := range []string{"vfio-pci", "e1000"} {
		must(t, os.MkdirAll(ft.sysfs.DriverPath(d), 0o755))
	}
	return ft
}

func (ft *fakeTree) addDevice(t *testing.T, bdf, driver string, group int) {
	t.Helper()
	a := pci.MustParseAddr(bdf)
	dir := ft.sysfs.DevicePath(a)
	must(t, os.MkdirAll(dir, 0o755))
	for f, v := range map[string]string{"vendor": "0x8086", "device": "0x100e", "class": "0x020000", "numa_node": "-1"} {
		must(t, os.WriteFile(filepath.Join(dir, f), []byte(v+"\n"), 0o644))
	}
	if driver != "" {
		must(t, os.Symlink(ft.sysfs.DriverPath(driver), filepath.Join(dir, "driver")))
	}
	if group >= 0 {
		g := ft.sysfs.IOMMUGroupPath(group)
		must(t, os.MkdirAll(filepath.Join(g, "devices"), 0o755))
		must(t, os.Symlink(dir, filepath.Join(g, "devices", bdf)))
		must(t, os.Symlink(g, filepath.Join(dir, "iommu_group")))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenChecks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		loaded   bool
		bdf      string
		sentinel error
		mentions []string
	}{
		{"bad address", true, "00:3.0", pci.ErrBadAddress, []string{"0000:00:03.0"}},
		{"modules not loaded", false, "0000:00:03.0", ErrNoVFIO, []string{"/dev/vfio/vfio", "modprobe"}},
		{"no such device", true, "0000:00:1f.0", pci.ErrNoDevice, []string{"0000:00:1f.0"}},
		{"bound to e1000", true, "0000:00:03.0", ErrNotBound, []string{"bound to e1000", "driver_override", "drivers_probe"}},
		{"bound to nothing", true, "0000:00:04.0", ErrNotBound, []string{"no driver", "driver_override"}},
		{"no IOMMU group", true, "0000:00:05.0", ErrNoIOMMUGroup, []string{"iommu_group", "intel_iommu=on"}},
		// The fake /dev/vfio/vfio is a regular file: the API version ioctl fails.
		{"not a VFIO container", true, "0000:00:06.0", nil, []string{"API version"}},
	} {
		ft := newFakeTree(t, tc.loaded)
		ft.addDevice(t, "0000:00:03.0", "e1000", 3)
		ft.addDevice(t, "0000:00:04.0", "", 4)
		ft.addDevice(t, "0000:00:05.0", "vfio-pci", -1)
		ft.addDevice(t, "0000:00:06.0", "vfio-pci", 6)
		d, err := Open(tc.bdf, &Options{Sysfs: ft.sysfs, DevDir: ft.devDir})
		if err == nil {
			d.Close()
			t.Errorf("%s: Open succeeded", tc.name)
			continue
		}
		if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.sentinel)
		}
		for _, m := range tc.mentions {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s: %q does not mention %q", tc.name, err, m)
			}
		}
	}
}

func TestNotViableNamesOthers(t *testing.T) {
	ft := newFakeTree(t, true)
	ft.addDevice(t, "0000:00:03.0", "vfio-pci", 3)
	// Put a second device, bound to e1000, into group 3.
	ft.addDevice(t, "0000:00:03.1", "e1000", -1)
	a := pci.MustParseAddr("0000:00:03.1")
	must(t, os.Symlink(ft.sysfs.DevicePath(a), filepath.Join(ft.sysfs.IOMMUGroupPath(3), "devices", a.String())))
	err := errNotViable(ft.sysfs, 3, pci.MustParseAddr("0000:00:03.0"))
	if !errors.Is(err, ErrGroupNotViable) {
		t.Fatalf("%v is not ErrGroupNotViable", err)
	}
	for _, m := range []string{"0000:00:03.1 (bound to e1000)", "iommu_groups/3/devices"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("%q does not mention %q", err, m)
		}
	}
	if strings.Contains(err.Error(), "0000:00:03.0 (") {
		t.Errorf("%q names the device itself", err)
	}
}
