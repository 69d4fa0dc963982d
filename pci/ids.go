package pci

import "fmt"

// The built-in names, used when no pci.ids is installed (the lab's
// initramfs has none): the network classes and the Intel NICs QEMU emulates.

// VendorIntel is Intel's PCI vendor ID.
const VendorIntel = 0x8086

var vendorNames = map[uint16]string{
	0x8086: "Intel Corporation",
	0x1af4: "Red Hat, Inc. (virtio)",
	0x1b36: "Red Hat, Inc. (QEMU)",
	0x1234: "QEMU (Bochs)",
	0x10ec: "Realtek Semiconductor Co., Ltd.",
	0x15b3: "Mellanox Technologies",
	0x14e4: "Broadcom Inc.",
}

type vendorDevice struct{ vendor, device uint16 }

var deviceNames = map[vendorDevice]string{
	{0x8086, 0x100e}: "82540EM Gigabit Ethernet Controller (e1000)",
	{0x8086, 0x100f}: "82545EM Gigabit Ethernet Controller (Copper)",
	{0x8086, 0x1010}: "82546EB Gigabit Ethernet Controller (Copper)",
	{0x8086, 0x1011}: "82545EM Gigabit Ethernet Controller (Fiber)",
	{0x8086, 0x1026}: "82545GM Gigabit Ethernet Controller",
	{0x8086, 0x1075}: "82547GI Gigabit Ethernet Controller",
	{0x8086, 0x1076}: "82541GI Gigabit Ethernet Controller",
	{0x8086, 0x107c}: "82541PI Gigabit Ethernet Controller",
	{0x8086, 0x10d3}: "82574L Gigabit Network Connection (e1000e)",
	{0x8086, 0x10f6}: "82574L Gigabit Network Connection",
	{0x8086, 0x150c}: "82583V Gigabit Network Connection",
	{0x8086, 0x10c9}: "82576 Gigabit Network Connection (igb)",
	{0x8086, 0x1521}: "I350 Gigabit Network Connection (igb)",
	{0x8086, 0x1533}: "I210 Gigabit Network Connection (igb)",
	{0x8086, 0x157b}: "I210 Gigabit Network Connection (igb)",
	{0x8086, 0x1539}: "I211 Gigabit Network Connection (igb)",
	{0x8086, 0x10fb}: "82599ES 10-Gigabit SFI/SFP+ Network Connection (ixgbe)",
	{0x8086, 0x29c0}: "82G33/G31/P35/P31 Express DRAM Controller",
	{0x8086, 0x2918}: "82801IB (ICH9) LPC Interface Controller",
	{0x8086, 0x2922}: "82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode]",
	{0x8086, 0x2930}: "82801I (ICH9 Family) SMBus Controller",
	{0x8086, 0x1237}: "440FX - 82441FX PMC [Natoma]",
	{0x8086, 0x7000}: "82371SB PIIX3 ISA [Natoma/Triton II]",
	{0x1af4, 0x1000}: "Virtio network device",
	{0x1af4, 0x1041}: "Virtio 1.0 network device",
	{0x1234, 0x1111}: "Bochs VGA",
}

var classNames = map[uint16]string{
	0x0100: "SCSI storage controller",
	0x0101: "IDE interface",
	0x0106: "SATA controller",
	0x0200: "Ethernet controller",
	0x0201: "Token ring network controller",
	0x0202: "FDDI network controller",
	0x0203: "ATM network controller",
	0x0204: "ISDN controller",
	0x0207: "Infiniband controller",
	0x0208: "Fabric controller",
	0x0280: "Network controller",
	0x0300: "VGA compatible controller",
	0x0600: "Host bridge",
	0x0601: "ISA bridge",
	0x0604: "PCI bridge",
	0x0c05: "SMBus",
}

// VendorName returns the vendor's name from pci.ids or the built-in table,
// or "" when neither knows it.
func VendorName(vendor uint16) string {
	if db := systemIDs(); db != nil {
		if n := db.Vendor(vendor); n != "" {
			return n
		}
	}
	return vendorNames[vendor]
}

// DeviceName returns the device's name from pci.ids or the built-in table,
// or "" when neither knows it.
func DeviceName(vendor, device uint16) string {
	if db := systemIDs(); db != nil {
		if n := db.Device(vendor, device); n != "" {
			return n
		}
	}
	return deviceNames[vendorDevice{vendor, device}]
}

// ClassName returns the name of a 24-bit class code's class and subclass
// from pci.ids or the built-in table, or "" when neither knows it.
func ClassName(class uint32) string {
	if db := systemIDs(); db != nil {
		if n := db.Class(class); n != "" {
			return n
		}
	}
	return classNames[uint16(class>>8)]
}

// IsNetwork reports whether a 24-bit class code is a network controller (class 0x02).
func IsNetwork(class uint32) bool { return class>>16 == 0x02 }

func nameOr(name string, format string, args ...any) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf(format, args...)
}
