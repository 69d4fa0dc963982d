// Package bustest simulates the kernel's side of sysfs PCI driver binding
// for tests of code that binds devices through package bus (bus.Sysfs) on a
// fake sysfs tree under a temporary folder. It is pci/pcitest behind the
// bus's door.
package bustest

import "github.com/uiodrv/uiodrv/pci/pcitest"

// Refuse is the name of a marker file: a driver folder that holds it
// (ROOT/bus/pci/drivers/NAME/refuse) refuses every device, as a driver whose
// probe fails does.
const Refuse = pcitest.Refuse

// Kernel returns a bus.Sysfs OnWrite hook for the fake tree at root that
// reacts to writes as the kernel does: drivers_probe binds by
// driver_override, unbind files unbind, a driver's bind file binds.
func Kernel(root string) func(path, data string) { return pcitest.Kernel(root) }
