package bus

import "github.com/uiodrv/uiodrv/pci"

// Sysfs PCI as the rest of the framework sees it: the bus is the one door to
// packages pci, vfio and uio, so a front end (the CLI, the root package) and
// the families name addresses, sysfs trees, configuration space and binding
// records through these aliases. They are the pci package's own types and
// values, not copies: errors.Is and type identity hold across the door.
type (
	// Addr is a PCI function address: domain, bus, device and function.
	Addr = pci.Addr
	// Sysfs is a sysfs tree (Root "" means DefaultSysfsRoot): lists
	// devices, reads their drivers and IOMMU groups, binds and unbinds.
	Sysfs = pci.Sysfs
	// Device is one PCI function as sysfs describes it.
	Device = pci.Device
	// Config reads and writes configuration space in little-endian units.
	Config = pci.Config
	// ConfigSpace is raw access to configuration space (Config wraps it).
	ConfigSpace = pci.ConfigSpace
	// StateDir is the folder where bind records each device's previous
	// driver.
	StateDir = pci.StateDir
	// Binding records a Sysfs.Bind so that Restore can undo it.
	Binding = pci.Binding
)

// DefaultSysfsRoot is where sysfs is mounted.
const DefaultSysfsRoot = pci.DefaultRoot

// ParseAddr parses "DDDD:BB:SS.F" or "BB:SS.F" (domain 0); malformed input
// wraps ErrBadAddress.
func ParseAddr(s string) (Addr, error) { return pci.ParseAddr(s) }

// MustParseAddr is ParseAddr for constants in tests and examples; it panics
// on error.
func MustParseAddr(s string) Addr { return pci.MustParseAddr(s) }

// NewConfig wraps raw configuration space; Config does not own rw.
func NewConfig(rw ConfigSpace) *Config { return pci.NewConfig(rw) }

// IsNetwork reports whether a 24-bit class code is a network controller.
func IsNetwork(class uint32) bool { return pci.IsNetwork(class) }

// Configuration space registers (PCI Local Bus Specification 3.0, 6.1).
const (
	CfgVendorID = pci.CfgVendorID // Vendor ID - RO, 16 bits
	CfgDeviceID = pci.CfgDeviceID // Device ID - RO, 16 bits
	CfgCommand  = pci.CfgCommand  // Command - RW, 16 bits
	CfgStatus   = pci.CfgStatus   // Status - RW1C, 16 bits
	CfgCapPtr   = pci.CfgCapPtr   // Capabilities Pointer - RO, 8 bits
)

// Command register bits.
const (
	CmdIO          = pci.CmdIO          // I/O Space Enable
	CmdMemory      = pci.CmdMemory      // Memory Space Enable
	CmdMaster      = pci.CmdMaster      // Bus Master Enable
	CmdINTxDisable = pci.CmdINTxDisable // Interrupt Disable
)

// Status register bits.
const (
	StatusINTx    = pci.StatusINTx    // Interrupt Status: INTx asserted
	StatusCapList = pci.StatusCapList // Capabilities List present
)
