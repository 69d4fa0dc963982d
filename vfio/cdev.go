package vfio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/pci"
)

// API is how a device is reached: the group/container interface
// (/dev/vfio/vfio and /dev/vfio/N, every kernel since 3.6) or iommufd with
// the VFIO device cdev (/dev/iommu and /dev/vfio/devices/vfioN, Linux 6.6
// and later with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV). Only how the
// device fd is obtained and how DMA is mapped differ: regions, config
// space, IRQs and reset go through the same device fd either way.
type API int

const (
	// APIAuto picks APICdev where /dev/iommu and the device's cdev exist,
	// APIGroup otherwise (SelectAPI).
	APIAuto API = iota
	// APIGroup: VFIO container and group; DMA through VFIO_IOMMU_MAP_DMA.
	APIGroup
	// APICdev: iommufd IOAS and the device cdev; DMA through IOMMU_IOAS_MAP.
	APICdev
)

func (a API) String() string {
	switch a {
	case APIAuto:
		return "auto"
	case APIGroup:
		return "group"
	case APICdev:
		return "cdev"
	}
	return fmt.Sprintf("API(%d)", int(a))
}

// ErrUnknownAPI is returned by ParseAPI.
var ErrUnknownAPI = errors.New("vfio: unknown VFIO API")

// ParseAPI parses "auto", "group" or "cdev" (also "iommufd").
func ParseAPI(s string) (API, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return APIAuto, nil
	case "group", "container":
		return APIGroup, nil
	case "cdev", "iommufd":
		return APICdev, nil
	}
	return 0, fmt.Errorf("%w %q: use auto, group or cdev", ErrUnknownAPI, s)
}

// CdevName returns the name of the device's VFIO cdev ("vfio0"), read from
// sysfs (DEVICE/vfio-dev/vfioN, present while the device is bound to
// vfio-pci on a kernel with CONFIG_VFIO_DEVICE_CDEV). It wraps ErrNoCdev.
func CdevName(s pci.Sysfs, a pci.Addr) (string, error) {
	dir := s.DevicePath(a) + "/vfio-dev"
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("vfio: read %s: %w", dir, err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "vfio") {
			return e.Name(), nil
		}
	}
	return "", fmt.Errorf("%w: %s has no %s/vfioN: bind it to vfio-pci, on a kernel with CONFIG_VFIO_DEVICE_CDEV (Linux 6.6+; no Debian kernel has it), or use --vfio-api group",
		ErrNoCdev, a, dir)
}

// APIs is what a device can be opened with now (Available).
type APIs struct {
	Group bool   // /dev/vfio/vfio and the device's /dev/vfio/N exist
	Cdev  bool   // /dev/iommu and the device's /dev/vfio/devices/vfioN exist
	Path  string // the cdev's path, when Cdev
	// Why says what is missing for the API that is not available.
	Why string
}

// Available reports which APIs could open the device (bound to vfio-pci),
// from sysfs and /dev only: nothing is opened.
func Available(bdf string, opts *Options) (APIs, error) {
	o := opts.withDefaults()
	a, err := pci.ParseAddr(bdf)
	if err != nil {
		return APIs{}, fmt.Errorf("vfio: %w", err)
	}
	var r APIs
	var why []string
	if !exists(o.IOMMUDev) {
		why = append(why, "no "+o.IOMMUDev+" (kernel without iommufd)")
	} else if name, err := CdevName(o.Sysfs, a); err != nil {
		why = append(why, "no "+o.Sysfs.DevicePath(a)+"/vfio-dev/vfioN (not bound to vfio-pci, or kernel without the VFIO cdev)")
	} else if p := o.DevDir + "/devices/" + name; !exists(p) {
		why = append(why, "no "+p)
	} else {
		r.Cdev, r.Path = true, p
	}
	if !exists(o.DevDir + "/vfio") {
		why = append(why, "no "+o.DevDir+"/vfio (kernel without the VFIO container)")
	} else if g, err := o.Sysfs.IOMMUGroup(a); err != nil {
		why = append(why, "no IOMMU group")
	} else if p := fmt.Sprintf("%s/%d", o.DevDir, g); !exists(p) {
		why = append(why, "no "+p+" (not bound to vfio-pci)")
	} else {
		r.Group = true
	}
	r.Why = strings.Join(why, "; ")
	return r, nil
}

// SelectAPI resolves APIAuto for the device: APICdev where /dev/iommu and
// the device's cdev exist, APIGroup otherwise, with the reason in words.
// Other APIs are returned as they are.
func SelectAPI(bdf string, opts *Options) (API, string, error) {
	o := opts.withDefaults()
	if o.API != APIAuto {
		return o.API, "asked for", nil
	}
	av, err := Available(bdf, opts)
	if err != nil {
		return 0, "", err
	}
	if av.Cdev {
		return APICdev, fmt.Sprintf("%s and %s exist", o.IOMMUDev, av.Path), nil
	}
	return APIGroup, av.Why, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// openCdev opens the device through iommufd: /dev/iommu with a new IOAS,
// the device cdev bound to that iommufd and attached to the IOAS. The
// Device owns the IOMMUFD. Checks, in order, before anything is opened:
// /dev/iommu present (ErrNoIOMMUFD), device present and bound to vfio-pci
// (ErrNotBound), its cdev present (ErrNoCdev); then opening either file
// wraps ErrPermission.
func openCdev(a pci.Addr, o Options) (*Device, error) {
	if _, err := os.Stat(o.IOMMUDev); err != nil {
		return nil, errOpenIOMMU(o.IOMMUDev, err)
	}
	dev, err := o.Sysfs.Lookup(a)
	if err != nil {
		return nil, fmt.Errorf("vfio: open: %w", err)
	}
	if dev.Driver != "vfio-pci" {
		return nil, errNotBound(o.Sysfs, a, dev.Driver)
	}
	name, err := CdevName(o.Sysfs, a)
	if err != nil {
		return nil, err
	}
	path := o.DevDir + "/devices/" + name
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s: %w; devtmpfs creates it: mount -t devtmpfs devtmpfs /dev", ErrNoCdev, path, err)
	}
	iommu, err := openIOMMUFD(o.IOMMUDev)
	if err != nil {
		return nil, err
	}
	dfd, err := open(path, unix.O_RDWR)
	if err != nil {
		iommu.Close()
		return nil, errOpenCdev(path, o.IOMMUDev, err)
	}
	fail := func(err error) (*Device, error) {
		closeFD(dfd)
		iommu.Close()
		return nil, err
	}
	b := deviceBindIOMMUFD{Argsz: sizeofDeviceBindIOMMUFD, IOMMUFD: int32(iommu.Fd())}
	if _, err := ioctlPtr(dfd, ioctlDeviceBindIOMMUFD, &b); err != nil {
		return fail(fmt.Errorf("vfio: bind %s to %s: %w%s", path, o.IOMMUDev, err, bindHint(err)))
	}
	at := deviceAttachPT{Argsz: sizeofDeviceAttachPT, PTID: iommu.IOAS()}
	if _, err := ioctlPtr(dfd, ioctlDeviceAttachIOMMUFDPT, &at); err != nil {
		return fail(fmt.Errorf("vfio: attach %s to IOAS %d: %w", path, iommu.IOAS(), err))
	}
	d, err := newDevice(dfd, a.String(), nil) // closes dfd on error
	if err != nil {
		iommu.Close()
		return nil, err
	}
	d.iommufd = iommu
	d.adopt(iommu.Close) // after the device fd: closing it unbinds the device
	return d, nil
}

func bindHint(err error) string {
	if errors.Is(err, unix.EBUSY) {
		return "; the device is in use through its group (/dev/vfio/N) or another cdev open: close that first"
	}
	return ""
}

// errOpenCdev maps errors of open(/dev/vfio/devices/vfioN).
func errOpenCdev(path, iommuDev string, err error) error {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: open %s: %w; run as root or give this user the file (chown, or a udev rule for vfio), and %s too",
			ErrPermission, path, err, iommuDev)
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("%w: open %s: %w; close the other user of the device", ErrGroupBusy, path, err)
	}
	return fmt.Errorf("vfio: open %s: %w", path, err)
}
