package drivertest

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/mmio"
)

// BusEvent is one access in a BusLog: a register write through BAR0
// (Cfg false) or a write of the PCI command register (Cfg true).
type BusEvent struct {
	Cfg bool
	Off uint32
	Val uint32
	// Master: Bus Master Enable was on when the register was written.
	Master bool
}

func (e BusEvent) String() string {
	if e.Cfg {
		return fmt.Sprintf("cfg command=%#04x", e.Val)
	}
	if e.Master {
		return fmt.Sprintf("reg %#05x=%#08x (bus master on)", e.Off, e.Val)
	}
	return fmt.Sprintf("reg %#05x=%#08x", e.Off, e.Val)
}

// BusLog records, in one order, the register writes of a BAR and the
// command-register writes of a configuration space, so that a test can show
// which came first: a family's quiesce before Bus Master Enable
// (bus.EnableBusMaster).
type BusLog struct {
	mu     sync.Mutex
	events []BusEvent
	cfg    [256]byte
}

// NewBusLog returns a log whose configuration space holds the PCI ID and
// the command register cmd (a crashed run may have left Bus Master on).
func NewBusLog(vendor, device, cmd uint16) *BusLog {
	l := &BusLog{}
	binary.LittleEndian.PutUint16(l.cfg[bus.CfgVendorID:], vendor)
	binary.LittleEndian.PutUint16(l.cfg[bus.CfgDeviceID:], device)
	binary.LittleEndian.PutUint16(l.cfg[bus.CfgCommand:], cmd)
	return l
}

// Config is the configuration space as bus.Config reads and writes it.
func (l *BusLog) Config() *bus.Config { return bus.NewConfig(logCfg{l}) }

// Regs wraps a fake register file: its writes are logged, then passed on.
func (l *BusLog) Regs(r mmio.Regs) mmio.Regs { return logRegs{l, r} }

// Events is a copy of what was logged.
func (l *BusLog) Events() []BusEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]BusEvent(nil), l.events...)
}

// Command is the command register's current value.
func (l *BusLog) Command() uint16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return binary.LittleEndian.Uint16(l.cfg[bus.CfgCommand:])
}

type logCfg struct{ l *BusLog }

func (c logCfg) ReadAt(p []byte, off int64) (int, error) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if off < 0 || off >= int64(len(c.l.cfg)) {
		return 0, fmt.Errorf("config read at %#x: outside the fake's 256 bytes", off)
	}
	return copy(p, c.l.cfg[off:]), nil
}

func (c logCfg) WriteAt(p []byte, off int64) (int, error) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if off < 0 || off+int64(len(p)) > int64(len(c.l.cfg)) {
		return 0, fmt.Errorf("config write at %#x: outside the fake's 256 bytes", off)
	}
	n := copy(c.l.cfg[off:], p)
	if off <= bus.CfgCommand && off+int64(n) > bus.CfgCommand {
		c.l.events = append(c.l.events, BusEvent{Cfg: true, Off: bus.CfgCommand,
			Val: uint32(binary.LittleEndian.Uint16(c.l.cfg[bus.CfgCommand:]))})
	}
	return n, nil
}

type logRegs struct {
	l *BusLog
	r mmio.Regs
}

func (r logRegs) Read32(off uint32) uint32 { return r.r.Read32(off) }

func (r logRegs) Write32(off, v uint32) {
	r.l.mu.Lock()
	master := binary.LittleEndian.Uint16(r.l.cfg[bus.CfgCommand:])&bus.CmdMaster != 0
	r.l.events = append(r.l.events, BusEvent{Off: off, Val: v, Master: master})
	r.l.mu.Unlock()
	r.r.Write32(off, v)
}

// MasterIndex is the index of the first command-register write that sets
// Bus Master Enable, or -1.
func MasterIndex(ev []BusEvent) int {
	for i, e := range ev {
		if e.Cfg && e.Val&bus.CmdMaster != 0 {
			return i
		}
	}
	return -1
}

// FirstWrite is the index of the first register write at off whose value
// satisfies ok, or -1.
func FirstWrite(ev []BusEvent, off uint32, ok func(uint32) bool) int {
	for i, e := range ev {
		if !e.Cfg && e.Off == off && ok(e.Val) {
			return i
		}
	}
	return -1
}
