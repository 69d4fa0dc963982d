package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/rt"
)

// usageError is a command-line mistake: exit status 2, reported before
// anything is opened or changed.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Sentinels of the CLI's own checks (preflight.go).
var (
	errRLimitMemlock = errors.New("RLIMIT_MEMLOCK too low")
	errNoHugepages   = errors.New("no free hugepages")
	errNoModule      = errors.New("kernel module not loaded")
)

// hints maps the sentinels a user has to act on to the fix, in one line.
// The wrapped error usually says it in detail already; the hint is the
// command to type.
var hints = []struct {
	err  error
	hint string
}{
	{bus.ErrBadAddress, "give the address as DDDD:BB:SS.F, e.g. --dev 0000:00:03.0 (see uiodrv list)"},
	{bus.ErrNoDevice, "no PCI device at that address: pick one from uiodrv list"},
	{driver.ErrUnsupportedDevice, "uiodrv drives " + supportedNICs("; ") + ": pick one from uiodrv list"},
	{errNoModule, "load the module: modprobe vfio-pci (VFIO) or modprobe uio_pci_generic (UIO)"},
	{bus.ErrNoVFIO, "load the VFIO modules: modprobe vfio-pci vfio_iommu_type1"},
	{bus.ErrNoIOMMUFD, "use --vfio-api group (or auto), or boot a kernel with CONFIG_IOMMUFD (see docs/vfio-api.md)"},
	{bus.ErrNoCdev, "use --vfio-api group (or auto), or boot a kernel with CONFIG_VFIO_DEVICE_CDEV and bind the device to vfio-pci"},
	{bus.ErrNoDriver, "load the driver's module: modprobe vfio-pci (or uio_pci_generic)"},
	{bus.ErrVFIONotBound, "bind it first: uiodrv bind --dev BDF (uiodrv unbind restores the old driver)"},
	{bus.ErrUIONotBound, "bind it first: uiodrv bind --dev BDF --driver uio_pci_generic"},
	{bus.ErrNoIOMMUGroup, "enable the IOMMU (boot with intel_iommu=on or amd_iommu=on) or use --backend uio"},
	{bus.ErrNoIOMMUGroupLink, "enable the IOMMU (boot with intel_iommu=on or amd_iommu=on) or use --backend uio"},
	{bus.ErrGroupNotViable, "bind every device of the IOMMU group to vfio-pci (uiodrv bind --dev each), or unbind them"},
	{errCdevPermission, "run as root, or give this user /dev/iommu and /dev/vfio/devices/vfioN (chown, or a udev rule; see docs/vfio-api.md)"},
	{bus.ErrPermission, "run as root, or give this user /dev/vfio/N (chown, or a udev rule)"},
	{bus.ErrGroupBusy, "another process holds the device: stop it (is another uiodrv running?)"},
	{bus.ErrNoInterruptRemapping, "enable interrupt remapping (intel_iommu=on; QEMU: -device intel-iommu,intremap=on)"},
	{bus.ErrMemlock, "raise RLIMIT_MEMLOCK (ulimit -l unlimited, systemd LimitMEMLOCK=infinity) or run as root"},
	{errRLimitMemlock, "raise RLIMIT_MEMLOCK (ulimit -l unlimited, systemd LimitMEMLOCK=infinity) or run as root"},
	{bus.ErrVFIONoHugepages, "reserve hugepages: echo 64 > /proc/sys/vm/nr_hugepages"},
	{bus.ErrUIONoHugepages, "reserve hugepages: echo 64 > /proc/sys/vm/nr_hugepages"},
	{errNoHugepages, "reserve hugepages: echo 64 > /proc/sys/vm/nr_hugepages"},
	{bus.ErrNoPhysAddr, "UIO needs root to read physical addresses from /proc/self/pagemap: run as root"},
	{rt.ErrRTNotPermitted, "run as root or with CAP_SYS_NICE (or raise RLIMIT_RTPRIO), or pass --rt-prio 0"},
	{rt.ErrNiceNotPermitted, "run as root or with CAP_SYS_NICE (workqueue workers run at nice -20)"},
	{driver.ErrUnknownBackend, "use --backend vfio or --backend uio"},
	{errNotNetwork, "check the address with uiodrv list --all; uiodrv binds and unbinds only network controllers (--force overrides)"},
	{errNoRecord, "uiodrv unbind gives back only what uiodrv bind took: check the address with uiodrv list (--force unbinds it anyway)"},
	{bus.ErrBadRecord, "look at the record, remove it, and give the device back by hand: echo BDF > /sys/bus/pci/drivers/DRIVER/bind"},
	{bus.ErrUnsafeStateDir, "the record folder must be root's and writable by no one else (chown root, chmod 700)"},
	{bus.ErrRestoreFailed, "give the device back by hand: echo BDF > /sys/bus/pci/drivers/DRIVER/bind (or uiodrv unbind --dev BDF), see dmesg"},
	{bus.ErrBindFailed, "see dmesg for why the driver refused the device"},
}

// hintFor returns the fix for err, or "".
func hintFor(err error) string {
	for _, h := range hints {
		if errors.Is(err, h.err) {
			return h.hint
		}
	}
	return ""
}

// report prints err with its fix and returns the exit status for it.
func report(w io.Writer, cmd string, err error) int {
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var u usageError
	if errors.As(err, &u) {
		code = exitUsage
	}
	fmt.Fprintf(w, "uiodrv %s: %v\n", cmd, err)
	if h := hintFor(err); h != "" {
		fmt.Fprintf(w, "  fix: %s\n", h)
	}
	if code == exitUsage {
		fmt.Fprintf(w, "  (see uiodrv %s --help)\n", strings.TrimSpace(cmd))
	}
	return code
}
