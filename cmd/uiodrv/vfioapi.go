package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/pflag"
	"github.com/uiodrv/uiodrv/internal/unix"
	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
)

// --vfio-api: which VFIO interface reaches the device. group is the
// container/group API every kernel has; cdev is iommufd with the device's
// cdev (Linux 6.6+ with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV); auto
// takes cdev where /dev/iommu and the device's cdev exist, and says which it
// took and why. See docs/vfio-api.md.

// iommuDev is iommufd's device node (tests point it elsewhere).
var iommuDev = bus.DefaultIOMMUDev

// errCdevPermission marks a permission failure on the cdev path, whose fix
// names other files than the group path's.
var errCdevPermission = errors.New("no permission on the VFIO cdev")

// vfioAPIFlags is --vfio-api and what prepare made of it.
type vfioAPIFlags struct {
	given  string               // as given
	parsed bus.API              // parsed; APIAuto until chooseAPI
	chosen map[string]apiChoice // by BDF: the API prepare chose, and why
}

// apiChoice is the API a run uses for one device, and why.
type apiChoice struct {
	api bus.API
	why string
}

func (f *runFlags) addVFIOAPI(fs *pflag.FlagSet) {
	fs.StringVar(&f.vapi.given, "vfio-api", "auto", "VFIO interface with --backend vfio: group (/dev/vfio/N), cdev (iommufd: /dev/iommu and /dev/vfio/devices/vfioN, Linux 6.6+), or auto (cdev where both exist, else group)")
}

// validateVFIOAPI parses --vfio-api: usage errors only, nothing is looked at.
func (f *runFlags) validateVFIOAPI() error {
	api, err := bus.ParseAPI(f.vapi.given)
	if err != nil {
		return usageError{fmt.Errorf("--vfio-api: %w", err)}
	}
	if f.parsedBack != driver.BackendVFIO && f.fs != nil && f.fs.Changed("vfio-api") && api != bus.APIAuto {
		return usagef("--vfio-api %s needs --backend vfio (uio_pci_generic has no VFIO interface)", api)
	}
	f.vapi.parsed = api
	return nil
}

// chooseAPI resolves --vfio-api auto for the target from sysfs and /dev
// (nothing is opened) and records the choice for the log and openDevice.
func (f *runFlags) chooseAPI(s bus.Sysfs, t target) target {
	if t.backend != driver.BackendVFIO {
		return t
	}
	opts := &bus.VFIOOptions{Sysfs: s, DevDir: vfioDevDir, IOMMUDev: iommuDev, API: t.api}
	api, why, err := bus.SelectAPI(t.addr.String(), opts)
	if err != nil { // a malformed address: validate has refused it already
		api, why = bus.APIGroup, err.Error()
	}
	if t.api == bus.APICdev {
		why = "--vfio-api cdev"
	} else if t.api == bus.APIGroup {
		why = "--vfio-api group"
	}
	if f.vapi.chosen == nil {
		f.vapi.chosen = map[string]apiChoice{}
	}
	f.vapi.chosen[t.addr.String()] = apiChoice{api, why}
	t.api = api
	return t
}

// apiFor is the API chosen for bdf (APIAuto before chooseAPI ran).
func (f *runFlags) apiFor(bdf string) bus.API { return f.vapi.chosen[bdf].api }

// logVFIOAPI says which VFIO API each device is opened with, and why.
func logVFIOAPI(log *zap.Logger, f *runFlags) {
	for _, t := range f.targets() {
		if c, ok := f.vapi.chosen[t.addr.String()]; ok {
			log.Info("vfio api", zap.String("dev", t.addr.String()), zap.Stringer("api", c.api), zap.String("why", c.why))
		}
	}
}

// checkVFIONodes opens and closes the device nodes the chosen API needs,
// which changes nothing (opening a cdev does not open the device: binding
// it to an iommufd does), to report a missing node, a permission problem
// or a device in use before the device is opened.
func checkVFIONodes(s bus.Sysfs, t target, group int) error {
	if t.api != bus.APICdev {
		return checkGroupFile(vfioDevDir, group)
	}
	if !fileExists(iommuDev) {
		return fmt.Errorf("%w: %s: this kernel has no iommufd (CONFIG_IOMMUFD; no Debian kernel enables it); use --vfio-api group or auto", bus.ErrNoIOMMUFD, iommuDev)
	}
	name, err := bus.CdevName(s, t.addr)
	if err != nil {
		return err
	}
	cdev := filepath.Join(vfioDevDir, "devices", name)
	for _, p := range []string{iommuDev, cdev} {
		fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
		switch {
		case err == nil:
			unix.Close(fd)
			continue
		case err == unix.EACCES || err == unix.EPERM:
			return fmt.Errorf("%w: %w: open %s: %v", errCdevPermission, bus.ErrPermission, p, err)
		case err == unix.ENOENT:
			return fmt.Errorf("%w: open %s: %v (devtmpfs creates it when vfio-pci binds the device)", bus.ErrNoCdev, p, err)
		}
		return fmt.Errorf("open %s: %w", p, err)
	}
	return nil
}

func fileExists(p string) bool {
	var st unix.Stat_t
	return unix.Stat(p, &st) == nil
}

// vfioAPIs is list's VFIO-API column: which --vfio-api values can open the
// device now ("group,cdev", "group", "cdev"), "-" when neither can (not
// bound to vfio-pci).
func vfioAPIs(s bus.Sysfs, d *bus.Device) string {
	if d.Driver != "vfio-pci" {
		return "-"
	}
	av, err := bus.AvailableAPIs(d.Addr.String(), &bus.VFIOOptions{Sysfs: s, DevDir: vfioDevDir, IOMMUDev: iommuDev})
	switch {
	case err != nil:
		return "-"
	case av.Group && av.Cdev:
		return "group,cdev"
	case av.Cdev:
		return "cdev"
	case av.Group:
		return "group"
	}
	return "-"
}
