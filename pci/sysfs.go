package pci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Sentinel errors callers branch on.
var (
	// ErrNoDevice: no such device under /sys/bus/pci/devices.
	ErrNoDevice = errors.New("pci: no such device")
	// ErrNoDriver: the driver is not registered (its module is not loaded).
	ErrNoDriver = errors.New("pci: driver not loaded")
	// ErrBindFailed: after drivers_probe the device is not bound to the requested driver.
	ErrBindFailed = errors.New("pci: bind failed")
)

// DefaultRoot is where sysfs is mounted.
const DefaultRoot = "/sys"

// Sysfs is a sysfs tree. Root is its mount point; the zero value means DefaultRoot.
type Sysfs struct {
	Root string

	// OnWrite, when set, is called after every successful write with the
	// path and data, so that a simulated tree (pcitest.Kernel) can react as
	// the kernel does: bind on drivers_probe, unbind on unbind. Nil in real use.
	OnWrite func(path, data string)
}

func (s Sysfs) root() string {
	if s.Root == "" {
		return DefaultRoot
	}
	return s.Root
}

// DevicePath returns /sys/bus/pci/devices/<addr>.
func (s Sysfs) DevicePath(a Addr) string {
	return filepath.Join(s.root(), "bus/pci/devices", a.String())
}

// DriverPath returns /sys/bus/pci/drivers/<name>.
func (s Sysfs) DriverPath(name string) string {
	return filepath.Join(s.root(), "bus/pci/drivers", name)
}

// IOMMUGroupPath returns /sys/kernel/iommu_groups/<group>.
func (s Sysfs) IOMMUGroupPath(group int) string {
	return filepath.Join(s.root(), "kernel/iommu_groups", strconv.Itoa(group))
}

// Device is one PCI function as sysfs describes it.
type Device struct {
	Addr            Addr
	Vendor          uint16
	DeviceID        uint16
	SubsystemVendor uint16
	SubsystemDevice uint16
	Class           uint32 // 24 bits: class, subclass, programming interface
	Driver          string // bound driver, "" if none
	IOMMUGroup      int    // -1 if the device has no IOMMU group
	NUMANode        int    // -1 if unknown
	Path            string // sysfs directory
}

// VendorName returns the vendor's name or its ID in hex.
func (d *Device) VendorName() string {
	return nameOr(VendorName(d.Vendor), "vendor %04x", d.Vendor)
}

// DeviceName returns the device's name or its ID in hex.
func (d *Device) DeviceName() string {
	return nameOr(DeviceName(d.Vendor, d.DeviceID), "device %04x", d.DeviceID)
}

// ClassName returns the class name or the class code in hex.
func (d *Device) ClassName() string {
	return nameOr(ClassName(d.Class), "class %04x", d.Class>>8)
}

// String returns an lspci -nn like line followed by driver, IOMMU group and NUMA node.
func (d *Device) String() string {
	drv := d.Driver
	if drv == "" {
		drv = "none"
	}
	grp := "none"
	if d.IOMMUGroup >= 0 {
		grp = strconv.Itoa(d.IOMMUGroup)
	}
	return fmt.Sprintf("%s %s [%04x]: %s %s [%04x:%04x] driver=%s iommu_group=%s numa_node=%d",
		d.Addr, d.ClassName(), d.Class>>8, d.VendorName(), d.DeviceName(), d.Vendor, d.DeviceID,
		drv, grp, d.NUMANode)
}

// List returns every PCI device in address order.
func (s Sysfs) List() ([]*Device, error) {
	dir := filepath.Join(s.root(), "bus/pci/devices")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pci: list devices: %w", err)
	}
	var devs []*Device
	for _, e := range ents {
		a, err := ParseAddr(e.Name())
		if err != nil {
			continue // not a device entry
		}
		d, err := s.Lookup(a)
		if err != nil {
			return nil, err
		}
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Addr.String() < devs[j].Addr.String() })
	return devs, nil
}

// Lookup reads one device. It wraps ErrNoDevice when sysfs has no such device.
func (s Sysfs) Lookup(a Addr) (*Device, error) {
	p := s.DevicePath(a)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s (no %s)", ErrNoDevice, a, p)
		}
		return nil, fmt.Errorf("pci: lookup %s: %w", a, err)
	}
	d := &Device{Addr: a, Path: p, IOMMUGroup: -1, NUMANode: -1}
	for _, f := range []struct {
		name string
		bits int
		dst  func(uint64)
	}{
		{"vendor", 16, func(v uint64) { d.Vendor = uint16(v) }},
		{"device", 16, func(v uint64) { d.DeviceID = uint16(v) }},
		{"subsystem_vendor", 16, func(v uint64) { d.SubsystemVendor = uint16(v) }},
		{"subsystem_device", 16, func(v uint64) { d.SubsystemDevice = uint16(v) }},
		{"class", 24, func(v uint64) { d.Class = uint32(v) }},
	} {
		v, err := readHex(filepath.Join(p, f.name), f.bits)
		if err != nil {
			if f.name == "subsystem_vendor" || f.name == "subsystem_device" {
				continue // optional
			}
			return nil, fmt.Errorf("pci: lookup %s: %w", a, err)
		}
		f.dst(v)
	}
	drv, err := s.CurrentDriver(a)
	if err != nil {
		return nil, err
	}
	d.Driver = drv
	if g, err := s.IOMMUGroup(a); err == nil {
		d.IOMMUGroup = g
	}
	if b, err := os.ReadFile(filepath.Join(p, "numa_node")); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			d.NUMANode = n
		}
	}
	return d, nil
}

// CurrentDriver returns the name of the driver bound to the device, or "" if none.
func (s Sysfs) CurrentDriver(a Addr) (string, error) {
	link, err := os.Readlink(filepath.Join(s.DevicePath(a), "driver"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pci: driver of %s: %w", a, err)
	}
	return filepath.Base(link), nil
}

// ErrNoIOMMUGroup is wrapped by IOMMUGroup when the device has no
// iommu_group link (the IOMMU is off or absent).
var ErrNoIOMMUGroup = errors.New("pci: device has no IOMMU group")

// IOMMUGroup returns the device's IOMMU group number.
func (s Sysfs) IOMMUGroup(a Addr) (int, error) {
	p := filepath.Join(s.DevicePath(a), "iommu_group")
	link, err := os.Readlink(p)
	if errors.Is(err, fs.ErrNotExist) {
		return -1, fmt.Errorf("%w: %s has no %s", ErrNoIOMMUGroup, a, p)
	}
	if err != nil {
		return -1, fmt.Errorf("pci: iommu group of %s: %w", a, err)
	}
	g, err := strconv.Atoi(filepath.Base(link))
	if err != nil {
		return -1, fmt.Errorf("pci: iommu group of %s: link %q: %w", a, link, err)
	}
	return g, nil
}

// GroupDevices returns the addresses of every device in an IOMMU group.
func (s Sysfs) GroupDevices(group int) ([]Addr, error) {
	dir := filepath.Join(s.IOMMUGroupPath(group), "devices")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pci: devices of iommu group %d: %w", group, err)
	}
	var out []Addr
	for _, e := range ents {
		if a, err := ParseAddr(e.Name()); err == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

func readHex(path string, bits int) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimPrefix(strings.TrimSpace(string(b)), "0x")
	v, err := strconv.ParseUint(s, 16, bits)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// write writes data to an existing sysfs attribute (never creates one).
func (s Sysfs) write(path, data string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(data)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	if cerr != nil {
		return cerr
	}
	if s.OnWrite != nil {
		s.OnWrite(path, data)
	}
	return nil
}
