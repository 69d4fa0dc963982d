// Package uiodrv is the front door of the uiodrv framework: it opens any NIC
// a registered driver family supports, by PCI address, and runs it as a port
// with the bottom half of your choice.
//
// Importing this package links in every family uiodrv ships (driver/all).
// The families register their PCI IDs with the core (driver.Register); Probe
// reads a device's ID from sysfs and finds its family, OpenDevice opens it.
package uiodrv

import (
	"fmt"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	_ "github.com/uiodrv/uiodrv/driver/all" // every shipped family registers itself
)

// Found is a device whose family is registered: its canonical address, what
// sysfs says of it and the family and model that drive it.
type Found struct {
	Addr   bus.Addr
	Device *bus.Device
	Family *driver.Family
	Model  driver.Model
}

// Probe finds the family and model of the device at addr (any form
// bus.ParseAddr accepts) from sysfs, without opening it. Errors wrap
// bus.ErrNoDevice or driver.ErrUnsupportedDevice.
func Probe(addr string) (*Found, error) { return ProbeSysfs(bus.Sysfs{}, addr) }

// ProbeSysfs is Probe on the sysfs tree s (tests use a fake tree).
func ProbeSysfs(s bus.Sysfs, addr string) (*Found, error) {
	a, err := bus.ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	d, err := s.Lookup(a)
	if err != nil {
		return nil, err
	}
	f, m, err := driver.Lookup(driver.PCIID{Vendor: d.Vendor, Device: d.DeviceID})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a, err)
	}
	return &Found{Addr: a, Device: d, Family: f, Model: m}, nil
}

// Check refuses options the found model cannot run, touching no device.
func (f *Found) Check(o driver.OpenOptions) error {
	if err := driver.CheckOptions(f.Family, f.Model, o); err != nil {
		return fmt.Errorf("%s (%s %s): %w", f.Addr, f.Family.Name, f.Model.Name, err)
	}
	return nil
}

// Open checks o and opens the found device with its family's driver. On
// error nothing is left open.
func (f *Found) Open(o driver.OpenOptions) (driver.Device, error) {
	if err := f.Check(o); err != nil {
		return nil, err
	}
	return f.Family.Open(f.Addr.String(), f.Model, o)
}

// OpenDevice probes addr, checks o against its model and opens it: the one
// call that opens any supported NIC. Give the result to NewPort, or use Open
// for both steps.
func OpenDevice(addr string, o driver.OpenOptions) (driver.Device, error) {
	f, err := Probe(addr)
	if err != nil {
		return nil, err
	}
	return f.Open(o)
}
