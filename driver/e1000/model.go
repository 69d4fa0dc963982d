package e1000

import (
	"errors"
	"fmt"
)

// ErrUnsupportedDevice is wrapped by LookupModel for a PCI ID this package
// does not drive.
var ErrUnsupportedDevice = errors.New("e1000: unsupported device")

// Model is a supported controller.
type Model int

// Supported controllers.
const (
	ModelUnknown Model = iota
	Model82540EM       // 8086:100e, QEMU's "e1000"
	Model82545EM       // 8086:100f
	Model82544GC       // 8086:100c
	Model82574L        // 8086:10d3, QEMU's "e1000e"
)

// IntelVendor is Intel's PCI vendor ID.
const IntelVendor = 0x8086

var models = [...]struct {
	device uint16
	model  Model
	name   string
}{
	{0x100e, Model82540EM, "82540EM"},
	{0x100f, Model82545EM, "82545EM"},
	{0x100c, Model82544GC, "82544GC"},
	{0x10d3, Model82574L, "82574L"},
}

// String returns the controller's name, e.g. "82540EM".
func (m Model) String() string {
	for _, e := range models {
		if e.model == m {
			return e.name
		}
	}
	if m == ModelUnknown {
		return "unknown"
	}
	return fmt.Sprintf("Model(%d)", int(m))
}

// LookupModel maps a PCI vendor and device ID to a Model. An ID this package
// does not drive returns ModelUnknown and an error wrapping ErrUnsupportedDevice.
func LookupModel(vendor, device uint16) (Model, error) {
	if vendor == IntelVendor {
		for _, e := range models {
			if e.device == device {
				return e.model, nil
			}
		}
	}
	return ModelUnknown, fmt.Errorf("%w: PCI ID %04x:%04x (supported: %s)",
		ErrUnsupportedDevice, vendor, device, supportedList())
}

func supportedList() string {
	s := ""
	for i, e := range models {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%04x:%04x %s", IntelVendor, e.device, e.name)
	}
	return s
}

// is82574 reports the e1000e-generation register set: IVAR/EIAC/EITR, the
// 82574 EERD layout, W1C ICR in MSI-X mode, TARC.
func (m Model) is82574() bool { return m == Model82574L }

// HasMSIX reports whether the model has MSI-X (only the 82574L, QEMU's
// e1000e: its IVAR routes the causes to vectors, 82574 10.2.4.9). Options.MSIX
// needs it; a CLI checks it from the device ID before opening anything.
func (m Model) HasMSIX() bool { return m.is82574() }

// hasEERD reports whether the EEPROM can be read through EERD
// (SDM 13.4.4: "not applicable to the 82544GC/EI").
func (m Model) hasEERD() bool { return m != Model82544GC }

// hasITR reports whether ITR and RADV exist (SDM 13.4.18: not on the 82544GC/EI).
func (m Model) hasITR() bool { return m != Model82544GC }

func (m Model) valid() bool { return m >= Model82540EM && m <= Model82574L }
