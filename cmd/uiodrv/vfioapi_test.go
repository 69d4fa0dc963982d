package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
)

// cdevTree is runTree with /dev/iommu (when iommu) and a VFIO cdev for
// 0000:00:03.0 (vfio0) and 0000:00:05.0 (vfio2); 0000:00:04.0 has none.
func cdevTree(t *testing.T, iommu bool) string {
	t.Helper()
	root := runTree(t)
	iommuDev = filepath.Join(t.TempDir(), "iommu")
	t.Cleanup(func() { iommuDev = bus.DefaultIOMMUDev })
	if iommu {
		must(t, os.WriteFile(iommuDev, nil, 0o600))
	}
	must(t, os.MkdirAll(filepath.Join(vfioDevDir, "devices"), 0o755))
	for bdf, name := range map[string]string{"0000:00:03.0": "vfio0", "0000:00:05.0": "vfio2"} {
		must(t, os.MkdirAll(filepath.Join(root, "bus/pci/devices", bdf, "vfio-dev", name), 0o755))
		must(t, os.WriteFile(filepath.Join(vfioDevDir, "devices", name), nil, 0o600))
	}
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// --vfio-api: bad values are usage errors (exit 2); a machine that cannot
// give the API asked for is a runtime failure (exit 1) naming the fix; all
// before the device is opened.
func TestVFIOAPIRefusals(t *testing.T) {
	for _, c := range []struct {
		name  string
		iommu bool
		args  []string
		code  int
		want  []string
	}{
		{"unknown API", true, []string{"--vfio-api", "legacy"}, 2, []string{"--vfio-api", "use auto, group or cdev"}},
		{"cdev with uio", true, []string{"--dev", "0000:00:07.0", "--backend", "uio", "--vfio-api", "cdev"}, 2, []string{"--vfio-api cdev needs --backend vfio"}},
		{"no /dev/iommu", false, []string{"--vfio-api", "cdev"}, 1, []string{"iommu: this kernel has no iommufd", "CONFIG_IOMMUFD", "fix: use --vfio-api group"}},
		{"no cdev", true, []string{"--dev", "0000:00:04.0", "--vfio-api", "cdev"}, 1, []string{"vfio-dev/vfioN", "CONFIG_VFIO_DEVICE_CDEV", "fix: use --vfio-api group"}},
		{"not bound", true, []string{"--dev", "0000:00:07.0", "--vfio-api", "cdev"}, 1, []string{"bound to uio_pci_generic", "fix: bind it first"}},
	} {
		root := cdevTree(t, c.iommu)
		opened := noOpen(t)
		args := append([]string{"--dev", "0000:00:03.0", "--sysfs", root, "--mode", "tasklet", "--irq-cpu", "-1", "--bh-cpu", "-1"}, c.args...)
		code, _, errOut := runCLI(args...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d: %s", c.name, code, c.code, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: %q does not say %q", c.name, errOut, w)
			}
		}
		if *opened != 0 {
			t.Errorf("%s: the device was opened", c.name)
		}
	}
}

// auto takes the cdev where /dev/iommu and the device's cdev exist, the
// group otherwise, and logs which and why; the device is opened with it.
func TestVFIOAPIAuto(t *testing.T) {
	for _, c := range []struct {
		name  string
		iommu bool
		dev   string
		api   bus.API
		why   string
	}{
		{"cdev", true, "0000:00:03.0", bus.APICdev, "devices/vfio0 exist"},
		{"no iommufd", false, "0000:00:03.0", bus.APIGroup, "kernel without iommufd"},
		{"no cdev", true, "0000:00:04.0", bus.APIGroup, "vfio-dev/vfioN"},
	} {
		root := cdevTree(t, c.iommu)
		var got bus.API = -1
		old := openNIC
		openNIC = func(bdf string, f *runFlags) (openedNIC, error) {
			got = f.apiFor(bdf)
			return nil, os.ErrInvalid
		}
		code, _, errOut := runCLI("--dev", c.dev, "--sysfs", root, "--mode", "tasklet", "--irq-cpu", "-1", "--bh-cpu", "-1")
		openNIC = old
		if code != 1 || got != c.api {
			t.Errorf("%s: exit %d, opened with %v; want exit 1 (the fake open) with %v: %s", c.name, code, got, c.api, errOut)
		}
		if !strings.Contains(errOut, "vfio api") || !strings.Contains(errOut, c.api.String()) || !strings.Contains(errOut, c.why) {
			t.Errorf("%s: the log %q does not say %v because %q", c.name, errOut, c.api, c.why)
		}
	}
}

func TestListVFIOAPIColumn(t *testing.T) {
	root := cdevTree(t, true)
	code, out, errOut := runCLI("list", "--sysfs", root)
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	for bdf, want := range map[string]string{"0000:00:03.0": "group,cdev", "0000:00:04.0": " group ", "0000:00:07.0": " - "} {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, bdf) {
				line = l
			}
		}
		if !strings.Contains(line, want) {
			t.Errorf("list: %s line %q lacks %q", bdf, line, want)
		}
	}
	if !strings.Contains(out, "VFIO-API") {
		t.Errorf("list has no VFIO-API column: %s", out)
	}
}
