package qemu

// NICModels are the emulated NIC models the lab boots, in the order a
// front end lists them.
var NICModels = []NICModel{E1000, E1000E, IGB}

// PCIID returns the PCI vendor and device ID QEMU gives the model's
// function, which is how a guest driver tells it apart; ok is false for a
// model the lab does not know.
func (m NICModel) PCIID() (vendor, device uint16, ok bool) {
	switch m {
	case E1000:
		return 0x8086, 0x100e, true
	case E1000E:
		return 0x8086, 0x10d3, true
	case IGB:
		return 0x8086, 0x10c9, true
	}
	return 0, 0, false
}
