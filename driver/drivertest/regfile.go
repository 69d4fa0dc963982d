package drivertest

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
)

// RegWrite is one logged register write of a RegFile.
type RegWrite[R ~uint32] struct {
	Reg R
	Val uint32
}

// RegFile is the register file every fake NIC model builds on: BAR0's 32-bit
// registers by byte offset, a log and a count of the writes, the violations
// of the driver's invariants the model saw, and how often it was reset. A
// model (e1000test, igbtest) embeds it and says what its registers do when
// read and written. R is the family's register offset type.
//
// Mu guards everything, the embedding model's own state too: the model's
// Read32 and Write32 hold it, and then use Regs, Record, Violation and
// NoteReset; the other methods take it themselves.
type RegFile[R ~uint32] struct {
	Mu sync.Mutex
	// Regs is the registers' memory, indexed by offset/4.
	Regs   []uint32
	name   string
	counts []uint32
	log    []RegWrite[R]
	logOn  bool
	viol   []string
	resets int
}

// NewRegFile is a register file of size bytes, all zero, write log on. name
// prefixes its panics (an offset outside the BAR is a bug in the test).
func NewRegFile[R ~uint32](name string, size int) RegFile[R] {
	return RegFile[R]{Regs: make([]uint32, size/4), counts: make([]uint32, size/4), name: name, logOn: true}
}

// Check panics on an offset that is unaligned or outside the BAR.
func (f *RegFile[R]) Check(off uint32) {
	if off&3 != 0 || int(off/4) >= len(f.Regs) {
		panic(fmt.Sprintf("%s: register offset %#x unaligned or outside BAR0", f.name, off))
	}
}

// Record logs and counts a write (Mu held).
func (f *RegFile[R]) Record(reg R, v uint32) {
	f.counts[reg/4]++
	if f.logOn {
		f.log = append(f.log, RegWrite[R]{reg, v})
	}
}

// Violation records a broken driver invariant (Mu held).
func (f *RegFile[R]) Violation(format string, args ...any) {
	f.viol = append(f.viol, fmt.Sprintf(format, args...))
}

// NoteReset counts a reset (Mu held).
func (f *RegFile[R]) NoteReset() { f.resets++ }

// Reg returns a register's value without read side effects.
func (f *RegFile[R]) Reg(reg R) uint32 {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.Regs[reg/4]
}

// SetReg sets a register's value without write side effects.
func (f *RegFile[R]) SetReg(reg R, v uint32) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Regs[reg/4] = v
}

// SetLogging turns the write log on or off (off for allocation tests: the
// log appends).
func (f *RegFile[R]) SetLogging(on bool) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.logOn = on
}

// WriteCount returns how many times reg was written.
func (f *RegFile[R]) WriteCount(reg R) int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return int(f.counts[reg/4])
}

// Writes returns the logged values written to reg, in order.
func (f *RegFile[R]) Writes(reg R) []uint32 {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	var out []uint32
	for _, w := range f.log {
		if w.Reg == reg {
			out = append(out, w.Val)
		}
	}
	return out
}

// Log returns a copy of the write log.
func (f *RegFile[R]) Log() []RegWrite[R] {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]RegWrite[R](nil), f.log...)
}

// ClearLog empties the write log and the per-register write counts.
func (f *RegFile[R]) ClearLog() {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.log = nil
	clear(f.counts)
}

// Violations returns the driver invariant violations seen so far.
func (f *RegFile[R]) Violations() []string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]string(nil), f.viol...)
}

// Resets returns how many resets happened (power-up counts as one).
func (f *RegFile[R]) Resets() int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.resets
}

// PowerUp puts every register at 0 but those in [keepFrom, keepTo] (the
// statistics, which survive a software reset on real parts too) and counts
// the reset; the model then sets its power-up values (Mu held).
func (f *RegFile[R]) PowerUp(keepFrom, keepTo R) {
	kept := append([]uint32(nil), f.Regs[keepFrom/4:keepTo/4+1]...)
	clear(f.Regs)
	copy(f.Regs[keepFrom/4:], kept)
	f.resets++
}

// LoadMAC puts mac in the receive address registers ral and rah with the
// address-valid bit av, as the NIC loads it from its NVM at reset (Mu held).
func (f *RegFile[R]) LoadMAC(ral, rah R, mac net.HardwareAddr, av uint32) {
	f.Regs[ral/4] = binary.LittleEndian.Uint32(mac[0:4])
	f.Regs[rah/4] = uint32(binary.LittleEndian.Uint16(mac[4:6])) | av
}
