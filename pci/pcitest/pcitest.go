// Package pcitest simulates the kernel's side of sysfs PCI driver binding
// for tests of code that binds devices (package pci, the CLI) on a fake
// sysfs tree under a temporary folder.
package pcitest

import (
	"os"
	"path/filepath"
	"strings"
)

// Refuse is the name of a marker file: a driver folder that holds it
// (ROOT/bus/pci/drivers/NAME/refuse) refuses every device, as a driver whose
// probe fails does: drivers_probe and its bind file then change nothing.
const Refuse = "refuse"

// Kernel returns a pci.Sysfs OnWrite hook for the fake tree at root. It
// reacts to writes as the kernel does: drivers_probe binds the device to the
// driver named in its driver_override (when the driver is registered and does
// not refuse), drivers/X/unbind and devices/BDF/driver/unbind remove the
// device's driver link, drivers/X/bind links the device to X, and a newline
// written to driver_override reads back as "(null)".
func Kernel(root string) func(path, data string) {
	return func(path, data string) {
		rel, _ := filepath.Rel(root, path)
		parts := strings.Split(rel, "/")
		link := func(bdf string) string { return filepath.Join(root, "bus/pci/devices", bdf, "driver") }
		bindTo := func(drv, bdf string) {
			dir := filepath.Join(root, "bus/pci/drivers", drv)
			if _, err := os.Stat(dir); err != nil {
				return
			}
			if _, err := os.Stat(filepath.Join(dir, Refuse)); err == nil {
				return
			}
			if _, err := os.Lstat(link(bdf)); err == nil {
				return // already bound: the kernel does not steal it
			}
			_ = os.Symlink(dir, link(bdf))
		}
		switch {
		case rel == "bus/pci/drivers_probe":
			ov, _ := os.ReadFile(filepath.Join(root, "bus/pci/devices", data, "driver_override"))
			drv := strings.TrimSpace(string(ov))
			if drv == "" || drv == "(null)" {
				return
			}
			bindTo(drv, data)
		case parts[len(parts)-1] == "unbind": // drivers/X/unbind or devices/BDF/driver/unbind
			_ = os.Remove(link(data))
		case len(parts) == 5 && parts[2] == "drivers" && parts[4] == "bind":
			bindTo(parts[3], data)
		case len(parts) == 5 && parts[4] == "driver_override" && strings.TrimSpace(data) == "":
			_ = os.WriteFile(path, []byte("(null)\n"), 0o644)
		}
	}
}
