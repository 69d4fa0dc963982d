package pci

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadAddress is wrapped by ParseAddr for input that is not a PCI address.
var ErrBadAddress = errors.New("pci: malformed address (want DDDD:BB:SS.F such as 0000:00:03.0, or BB:SS.F such as 00:03.0)")

// Addr is a PCI function address: domain, bus, device (slot) and function.
type Addr struct {
	Domain   uint16
	Bus      uint8
	Device   uint8 // 0..31
	Function uint8 // 0..7
}

// ParseAddr parses "DDDD:BB:SS.F" (all hexadecimal) or the short form
// "BB:SS.F", which means domain 0.
func ParseAddr(s string) (Addr, error) {
	bad := func(why string) (Addr, error) {
		return Addr{}, fmt.Errorf("%w: %q: %s", ErrBadAddress, s, why)
	}
	parts := strings.Split(s, ":")
	var a Addr
	switch len(parts) {
	case 2:
	case 3:
		if len(parts[0]) != 4 {
			return bad("domain must be 4 hex digits")
		}
		d, err := strconv.ParseUint(parts[0], 16, 16)
		if err != nil {
			return bad("domain is not hexadecimal")
		}
		a.Domain = uint16(d)
		parts = parts[1:]
	default:
		return bad("wrong number of ':'")
	}
	if len(parts[0]) != 2 {
		return bad("bus must be 2 hex digits")
	}
	b, err := strconv.ParseUint(parts[0], 16, 8)
	if err != nil {
		return bad("bus is not hexadecimal")
	}
	a.Bus = uint8(b)
	slot, fn, ok := strings.Cut(parts[1], ".")
	if !ok {
		return bad("missing '.' before the function")
	}
	if len(slot) != 2 {
		return bad("device must be 2 hex digits")
	}
	d, err := strconv.ParseUint(slot, 16, 8)
	if err != nil || d > 0x1f {
		return bad("device must be 00..1f")
	}
	a.Device = uint8(d)
	if len(fn) != 1 || fn[0] < '0' || fn[0] > '7' {
		return bad("function must be 0..7")
	}
	a.Function = fn[0] - '0'
	return a, nil
}

// MustParseAddr is ParseAddr for constants in tests and examples; it panics on error.
func MustParseAddr(s string) Addr {
	a, err := ParseAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}

// String returns the canonical sysfs form, "0000:00:03.0".
func (a Addr) String() string {
	return fmt.Sprintf("%04x:%02x:%02x.%d", a.Domain, a.Bus, a.Device, a.Function)
}
