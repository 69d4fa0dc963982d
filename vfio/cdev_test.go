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

// The numbers from linux/iommufd.h (_IO(';', 0x80+n)) and linux/vfio.h
// (_IO(';', 100+n)) of Linux 7.2.
func TestIOMMUFDIoctlNumbers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"IOMMU_DESTROY", ioctlIOMMUDestroy, 0x3B80},
		{"IOMMU_IOAS_ALLOC", ioctlIOMMUIOASAlloc, 0x3B81},
		{"IOMMU_IOAS_IOVA_RANGES", ioctlIOMMUIOASIOVARanges, 0x3B84},
		{"IOMMU_IOAS_MAP", ioctlIOMMUIOASMap, 0x3B85},
		{"IOMMU_IOAS_UNMAP", ioctlIOMMUIOASUnmap, 0x3B86},
		{"VFIO_DEVICE_BIND_IOMMUFD", ioctlDeviceBindIOMMUFD, 0x3B76},
		{"VFIO_DEVICE_ATTACH_IOMMUFD_PT", ioctlDeviceAttachIOMMUFDPT, 0x3B77},
		{"VFIO_DEVICE_DETACH_IOMMUFD_PT", ioctlDeviceDetachIOMMUFDPT, 0x3B78},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	if ioasMapFixedIOVA != 1 || ioasMapWriteable != 2 || ioasMapReadable != 4 {
		t.Errorf("IOMMU_IOAS_MAP flags = %d %d %d, want 1 2 4", ioasMapFixedIOVA, ioasMapWriteable, ioasMapReadable)
	}
}

func TestParseAPI(t *testing.T) {
	for in, want := range map[string]API{"auto": APIAuto, "": APIAuto, "group": APIGroup, "GROUP": APIGroup, "container": APIGroup, "cdev": APICdev, "iommufd": APICdev} {
		got, err := ParseAPI(in)
		if err != nil || got != want {
			t.Errorf("ParseAPI(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"legacy", "vfio", "cdev2"} {
		if _, err := ParseAPI(in); !errors.Is(err, ErrUnknownAPI) || !strings.Contains(err.Error(), "auto, group or cdev") {
			t.Errorf("ParseAPI(%q) = %v, want ErrUnknownAPI naming the choices", in, err)
		}
	}
	for a, s := range map[API]string{APIAuto: "auto", APIGroup: "group", APICdev: "cdev", 7: "API(7)"} {
		if a.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(a), a.String(), s)
		}
	}
}

// addCdev gives a fake device its sysfs vfio-dev/vfioN and, with dev, its
// /dev/vfio/devices/vfioN.
func (ft *fakeTree) addCdev(t *testing.T, bdf, name string, dev bool) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(ft.sysfs.DevicePath(pci.MustParseAddr(bdf)), "vfio-dev", name), 0o755))
	if dev {
		must(t, os.MkdirAll(filepath.Join(ft.devDir, "devices"), 0o755))
		must(t, os.WriteFile(filepath.Join(ft.devDir, "devices", name), nil, 0o600))
	}
}

func TestSelectAPI(t *testing.T) {
	ft := newFakeTree(t, true)
	iommu := filepath.Join(t.TempDir(), "iommu")
	ft.addDevice(t, "0000:00:03.0", "vfio-pci", 3) // group only: kernel without the cdev
	must(t, os.WriteFile(filepath.Join(ft.devDir, "3"), nil, 0o600))
	ft.addDevice(t, "0000:00:04.0", "vfio-pci", 4) // group and cdev
	must(t, os.WriteFile(filepath.Join(ft.devDir, "4"), nil, 0o600))
	ft.addCdev(t, "0000:00:04.0", "vfio0", true)
	ft.addDevice(t, "0000:00:05.0", "e1000", 5) // not bound: nothing
	opts := func(a API) *Options {
		return &Options{Sysfs: ft.sysfs, DevDir: ft.devDir, IOMMUDev: iommu, API: a}
	}
	check := func(bdf string, want API, mentions ...string) {
		t.Helper()
		got, why, err := SelectAPI(bdf, opts(APIAuto))
		if err != nil || got != want {
			t.Errorf("SelectAPI(%s) = %v (%s), %v; want %v", bdf, got, why, err, want)
		}
		for _, m := range mentions {
			if !strings.Contains(why, m) {
				t.Errorf("SelectAPI(%s): reason %q does not mention %q", bdf, why, m)
			}
		}
	}
	// No /dev/iommu: group everywhere, and the reason says so.
	check("0000:00:04.0", APIGroup, iommu, "without iommufd")
	must(t, os.WriteFile(iommu, nil, 0o600))
	check("0000:00:03.0", APIGroup, "vfio-dev/vfioN")
	check("0000:00:04.0", APICdev, iommu, "devices/vfio0")
	check("0000:00:05.0", APIGroup)
	if a, _, _ := SelectAPI("0000:00:04.0", opts(APIGroup)); a != APIGroup {
		t.Errorf("SelectAPI with APIGroup asked for = %v", a)
	}
	av, err := Available("0000:00:04.0", opts(APIAuto))
	if err != nil || !av.Group || !av.Cdev || av.Path != filepath.Join(ft.devDir, "devices", "vfio0") {
		t.Errorf("Available(04.0) = %+v, %v; want group and cdev", av, err)
	}
	av, _ = Available("0000:00:05.0", opts(APIAuto))
	if av.Group || av.Cdev {
		t.Errorf("Available(05.0, bound to e1000) = %+v, want neither", av)
	}
	if _, err := Available("00:5.0", opts(APIAuto)); !errors.Is(err, pci.ErrBadAddress) {
		t.Errorf("Available(bad address) = %v", err)
	}
}

// Open through the cdev checks, in order, before opening anything that
// touches the device: /dev/iommu, the device, its binding, its cdev.
func TestOpenCdevChecks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		iommu    bool
		bdf      string
		sentinel error
		mentions []string
	}{
		{"bad address", true, "00:3.0", pci.ErrBadAddress, nil},
		{"no /dev/iommu", false, "0000:00:04.0", ErrNoIOMMUFD, []string{"iommu", "CONFIG_IOMMUFD", "--vfio-api group"}},
		{"no such device", true, "0000:00:1f.0", pci.ErrNoDevice, []string{"0000:00:1f.0"}},
		{"bound to e1000", true, "0000:00:05.0", ErrNotBound, []string{"bound to e1000", "driver_override"}},
		{"no cdev in sysfs", true, "0000:00:03.0", ErrNoCdev, []string{"vfio-dev", "CONFIG_VFIO_DEVICE_CDEV", "--vfio-api group"}},
		{"no cdev in /dev", true, "0000:00:06.0", ErrNoCdev, []string{"devices/vfio1", "devtmpfs"}},
		// The fake /dev/iommu is a regular file: the IOAS allocation fails.
		{"not an iommufd", true, "0000:00:04.0", nil, []string{"allocate IOAS"}},
	} {
		ft := newFakeTree(t, false) // no /dev/vfio/vfio: the cdev path does not need it
		iommu := filepath.Join(t.TempDir(), "iommu")
		if tc.iommu {
			must(t, os.WriteFile(iommu, nil, 0o600))
		}
		ft.addDevice(t, "0000:00:03.0", "vfio-pci", 3)
		ft.addDevice(t, "0000:00:04.0", "vfio-pci", 4)
		ft.addCdev(t, "0000:00:04.0", "vfio0", true)
		ft.addDevice(t, "0000:00:05.0", "e1000", 5)
		ft.addDevice(t, "0000:00:06.0", "vfio-pci", 6)
		ft.addCdev(t, "0000:00:06.0", "vfio1", false)
		d, err := Open(tc.bdf, &Options{Sysfs: ft.sysfs, DevDir: ft.devDir, IOMMUDev: iommu, API: APICdev})
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

func TestCdevErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		sentinel error
		mentions []string
	}{
		{"iommu ENOENT", errOpenIOMMU("/dev/iommu", os.ErrNotExist), ErrNoIOMMUFD, []string{"/dev/iommu", "--vfio-api group"}},
		{"iommu EACCES", errOpenIOMMU("/dev/iommu", unix.EACCES), ErrPermission, []string{"/dev/iommu", "0660", "chgrp"}},
		{"cdev EACCES", errOpenCdev("/dev/vfio/devices/vfio0", "/dev/iommu", unix.EACCES), ErrPermission, []string{"/dev/vfio/devices/vfio0", "/dev/iommu"}},
		{"cdev EBUSY", errOpenCdev("/dev/vfio/devices/vfio0", "/dev/iommu", unix.EBUSY), ErrGroupBusy, []string{"vfio0"}},
	} {
		if !errors.Is(tc.err, tc.sentinel) {
			t.Errorf("%s: %v is not %v", tc.name, tc.err, tc.sentinel)
		}
		for _, m := range tc.mentions {
			if !strings.Contains(tc.err.Error(), m) {
				t.Errorf("%s: %q does not mention %q", tc.name, tc.err, m)
			}
		}
	}
	if err := errOpenCdev("/x", "/y", unix.EIO); errors.Is(err, ErrPermission) || errors.Is(err, ErrGroupBusy) {
		t.Errorf("EIO wraps a sentinel: %v", err)
	}
}
