package pci

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Configuration space registers (PCI Local Bus Specification 3.0, section 6.1).
const (
	CfgVendorID      = 0x00 // Vendor ID - RO, 16 bits
	CfgDeviceID      = 0x02 // Device ID - RO, 16 bits
	CfgCommand       = 0x04 // Command - RW, 16 bits
	CfgStatus        = 0x06 // Status - RW1C, 16 bits
	CfgRevision      = 0x08 // Revision ID - RO, 8 bits
	CfgClass         = 0x09 // Class Code - RO, 24 bits
	CfgBAR0          = 0x10 // Base Address Register 0 - RW, 32 bits
	CfgCapPtr        = 0x34 // Capabilities Pointer - RO, 8 bits
	CfgInterruptLine = 0x3c // Interrupt Line - RW, 8 bits
	CfgInterruptPin  = 0x3d // Interrupt Pin - RO, 8 bits
)

// Command register bits.
const (
	CmdIO          = 0x0001 // I/O Space Enable
	CmdMemory      = 0x0002 // Memory Space Enable
	CmdMaster      = 0x0004 // Bus Master Enable
	CmdINTxDisable = 0x0400 // Interrupt Disable
)

// Status register bits.
const (
	StatusINTx    = 0x0008 // Interrupt Status: INTx asserted
	StatusCapList = 0x0010 // Capabilities List present
)

// Capability IDs.
const (
	CapPM   = 0x01 // Power Management
	CapMSI  = 0x05 // Message Signalled Interrupts
	CapExp  = 0x10 // PCI Express
	CapMSIX = 0x11 // MSI-X
)

// ErrNoCapability is wrapped by FindCapability when the capability is absent.
var ErrNoCapability = errors.New("pci: capability not present")

// ConfigSpace is raw access to a function's configuration space: the sysfs
// "config" file, or the VFIO config region.
type ConfigSpace interface {
	io.ReaderAt
	io.WriterAt
}

// Config reads and writes configuration space in little-endian units.
// Its methods are safe for concurrent use.
type Config struct {
	mu     sync.Mutex // serialises read-modify-write of the command register
	rw     ConfigSpace
	closer io.Closer // nil when Config does not own rw
}

// NewConfig wraps rw. Config does not own rw: Close does not close it.
func NewConfig(rw ConfigSpace) *Config { return &Config{rw: rw} }

// OpenConfig opens /sys/bus/pci/devices/<addr>/config read-write (root only
// beyond the first 64 bytes). Close closes the file.
func (s Sysfs) OpenConfig(a Addr) (*Config, error) {
	p := filepath.Join(s.DevicePath(a), "config")
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("pci: open config space: %w", err)
	}
	return &Config{rw: f, closer: f}, nil
}

// Close closes the sysfs file if Config owns one. It is idempotent.
func (c *Config) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closer == nil {
		return nil
	}
	err := c.closer.Close()
	c.closer = nil
	return err
}

func (c *Config) read(off int, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := c.rw.ReadAt(b, int64(off)); err != nil {
		return nil, fmt.Errorf("pci: read config %#x (%d bytes): %w", off, n, err)
	}
	return b, nil
}

func (c *Config) write(off int, b []byte) error {
	if _, err := c.rw.WriteAt(b, int64(off)); err != nil {
		return fmt.Errorf("pci: write config %#x (%d bytes): %w", off, len(b), err)
	}
	return nil
}

// Read8 reads one byte at off.
func (c *Config) Read8(off int) (uint8, error) {
	b, err := c.read(off, 1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// Read16 reads a 16-bit register at off.
func (c *Config) Read16(off int) (uint16, error) {
	b, err := c.read(off, 2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

// Read32 reads a 32-bit register at off.
func (c *Config) Read32(off int) (uint32, error) {
	b, err := c.read(off, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// Write8 writes one byte at off.
func (c *Config) Write8(off int, v uint8) error { return c.write(off, []byte{v}) }

// Write16 writes a 16-bit register at off.
func (c *Config) Write16(off int, v uint16) error {
	return c.write(off, binary.LittleEndian.AppendUint16(nil, v))
}

// Write32 writes a 32-bit register at off.
func (c *Config) Write32(off int, v uint32) error {
	return c.write(off, binary.LittleEndian.AppendUint32(nil, v))
}

// Command reads the command register.
func (c *Config) Command() (uint16, error) { return c.Read16(CfgCommand) }

// UpdateCommand sets then clears bits of the command register
// (read-modify-write under a lock) and returns the new value.
func (c *Config) UpdateCommand(set, clear uint16) (uint16, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, err := c.Read16(CfgCommand)
	if err != nil {
		return 0, err
	}
	nv := (v | set) &^ clear
	if nv == v {
		return v, nil
	}
	return nv, c.Write16(CfgCommand, nv)
}

// EnableBusMaster sets Memory Space Enable and Bus Master Enable, which a
// device needs to answer MMIO and to do DMA. vfio-pci and uio_pci_generic
// leave bus mastering off.
func (c *Config) EnableBusMaster() error {
	_, err := c.UpdateCommand(CmdMemory|CmdMaster, 0)
	return err
}

// DisableBusMaster clears Bus Master Enable: the device stops DMA.
func (c *Config) DisableBusMaster() error {
	_, err := c.UpdateCommand(0, CmdMaster)
	return err
}

// SetINTxDisabled sets or clears the command register's Interrupt Disable
// bit. uio_pci_generic sets it on every interrupt; clearing it re-arms INTx.
func (c *Config) SetINTxDisabled(disabled bool) error {
	var err error
	if disabled {
		_, err = c.UpdateCommand(CmdINTxDisable, 0)
	} else {
		_, err = c.UpdateCommand(0, CmdINTxDisable)
	}
	return err
}

// FindCapability walks the capability list and returns the offset of the
// first capability with the given ID.
func (c *Config) FindCapability(id uint8) (int, error) {
	st, err := c.Read16(CfgStatus)
	if err != nil {
		return 0, err
	}
	if st&StatusCapList == 0 {
		return 0, fmt.Errorf("%w: %#02x (no capability list)", ErrNoCapability, id)
	}
	p, err := c.Read8(CfgCapPtr)
	if err != nil {
		return 0, err
	}
	for hops := 0; p >= 0x40 && hops < 48; hops++ { // 48 caps fit in 192 bytes: stop on loops
		p &^= 3
		hdr, err := c.Read16(int(p))
		if err != nil {
			return 0, err
		}
		if uint8(hdr) == id {
			return int(p), nil
		}
		p = uint8(hdr >> 8)
	}
	return 0, fmt.Errorf("%w: %#02x", ErrNoCapability, id)
}
