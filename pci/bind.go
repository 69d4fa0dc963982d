package pci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Binding records a Bind so that Restore can give the device back to the
// driver it had before.
type Binding struct {
	Addr     Addr
	Driver   string // the driver Bind bound the device to
	Previous string // the driver before Bind, "" if none
	sysfs    Sysfs
}

// Bind binds the device to driver: it writes driver to driver_override,
// unbinds the current driver, and writes the address to drivers_probe. It
// verifies the result and returns a Binding that remembers the previous
// driver. Binding to the driver already bound is a no-op.
//
// When a step fails after driver_override was written, Bind undoes what it
// did: it clears driver_override and gives the device back to its previous
// driver, so that a failed bind never leaves the device on no driver. The
// error then wraps ErrBindFailed (or the failing step's error), and also
// ErrRestoreFailed when the device could not be given back.
//
// It wraps ErrNoDevice, ErrNoDriver (the driver's module is not loaded) or
// ErrBindFailed.
func (s Sysfs) Bind(a Addr, driver string) (_ *Binding, err error) {
	if err := CheckDriverName(driver); err != nil {
		return nil, fmt.Errorf("pci: bind %s: %w", a, err)
	}
	if _, err := os.Stat(s.DevicePath(a)); err != nil {
		return nil, fmt.Errorf("%w: %s (bind to %s: %v)", ErrNoDevice, a, driver, err)
	}
	if _, err := os.Stat(s.DriverPath(driver)); err != nil {
		return nil, fmt.Errorf("%w: bind %s to %s: %s is missing (modprobe %s)",
			ErrNoDriver, a, driver, s.DriverPath(driver), driver)
	}
	prev, err := s.CurrentDriver(a)
	if err != nil {
		return nil, err
	}
	b := &Binding{Addr: a, Driver: driver, Previous: prev, sysfs: s}
	if prev == driver {
		return b, nil
	}
	if err := s.setOverride(a, driver); err != nil {
		// A failed write may still have reached the kernel: clear it.
		return nil, errors.Join(fmt.Errorf("pci: bind %s to %s: %w", a, driver, err), b.undo())
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.undo())
		}
	}()
	if prev != "" {
		if err := s.unbind(a, prev); err != nil {
			return nil, fmt.Errorf("pci: bind %s to %s: %w", a, driver, err)
		}
	}
	if err := s.write(filepath.Join(s.root(), "bus/pci/drivers_probe"), a.String()); err != nil {
		return nil, fmt.Errorf("%w: %s to %s: write drivers_probe: %w", ErrBindFailed, a, driver, err)
	}
	now, err := s.CurrentDriver(a)
	if err != nil {
		return nil, err
	}
	if now != driver {
		return nil, fmt.Errorf("%w: %s is bound to %q after drivers_probe, want %q (see dmesg)",
			ErrBindFailed, a, now, driver)
	}
	return b, nil
}

// ErrRestoreFailed is wrapped when a device could not be given back to its
// previous driver (after a failed Bind, or by Restore).
var ErrRestoreFailed = errors.New("pci: previous driver not restored")

// undo gives the device back after a failed Bind: it clears driver_override,
// unbinds whatever driver took the device, and binds the previous driver
// again. It returns nil when the device is back as it was.
func (b *Binding) undo() error {
	s, a := b.sysfs, b.Addr
	err := s.clearOverride(a)
	cur, cerr := s.CurrentDriver(a)
	if cerr != nil {
		return fmt.Errorf("%w: %s: %w", ErrRestoreFailed, a, errors.Join(err, cerr))
	}
	if cur != b.Previous && cur != "" {
		if uerr := s.unbind(a, cur); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}
	if cur != b.Previous && b.Previous != "" {
		err = errors.Join(err, s.Attach(a, b.Previous))
	} else if now, _ := s.CurrentDriver(a); now != b.Previous {
		err = errors.Join(err, fmt.Errorf("bound to %q, want %q", now, b.Previous))
	}
	if err != nil {
		return fmt.Errorf("%w: %s (echo %s > %s/bind): %w", ErrRestoreFailed, a, a, s.DriverPath(b.Previous), err)
	}
	return nil
}

// Unbind detaches the device from its driver and clears driver_override so
// that no driver claims it. Unbinding an unbound device is a no-op.
func (s Sysfs) Unbind(a Addr) error {
	cur, err := s.CurrentDriver(a)
	if err != nil {
		return err
	}
	if err := s.clearOverride(a); err != nil {
		return fmt.Errorf("pci: unbind %s: %w", a, err)
	}
	if cur == "" {
		return nil
	}
	if err := s.unbind(a, cur); err != nil {
		return fmt.Errorf("pci: unbind %s: %w", a, err)
	}
	return nil
}

// Restore unbinds the device from the driver Bind chose, clears
// driver_override, and binds the previous driver again (if there was one).
func (b *Binding) Restore() error {
	s, a := b.sysfs, b.Addr
	cur, err := s.CurrentDriver(a)
	if err != nil {
		return err
	}
	if cur == b.Previous {
		return s.clearOverride(a)
	}
	if err := s.Unbind(a); err != nil {
		return fmt.Errorf("pci: restore %s: %w", a, err)
	}
	if b.Previous == "" {
		return nil
	}
	if err := s.Attach(a, b.Previous); err != nil {
		return fmt.Errorf("pci: restore %s: %w", a, err)
	}
	return nil
}

// Attach gives an unbound device to driver through the driver's bind file
// (no driver_override needed: the driver's ID table must match the device)
// and checks that the driver took it. It wraps ErrBindFailed, or
// ErrBadDriverName for a name that is not a plain driver name.
func (s Sysfs) Attach(a Addr, driver string) error {
	if err := CheckDriverName(driver); err != nil {
		return fmt.Errorf("pci: attach %s: %w", a, err) // a name must not become a path
	}
	if err := s.write(filepath.Join(s.DriverPath(driver), "bind"), a.String()); err != nil {
		return fmt.Errorf("%w: %s to %s: write %s/bind: %w", ErrBindFailed, a, driver, s.DriverPath(driver), err)
	}
	if now, err := s.CurrentDriver(a); err != nil || now != driver {
		return fmt.Errorf("%w: %s is bound to %q after writing %s/bind, want %q (see dmesg)", ErrBindFailed, a, now, s.DriverPath(driver), driver)
	}
	return nil
}

func (s Sysfs) unbind(a Addr, drv string) error {
	err := s.write(filepath.Join(s.DevicePath(a), "driver/unbind"), a.String())
	if errors.Is(err, fs.ErrNotExist) { // raced with another unbind
		return nil
	}
	if err != nil {
		return fmt.Errorf("unbind from %s: %w", drv, err)
	}
	return nil
}

func (s Sysfs) setOverride(a Addr, driver string) error {
	if err := s.write(filepath.Join(s.DevicePath(a), "driver_override"), driver); err != nil {
		return fmt.Errorf("write driver_override: %w", err)
	}
	return nil
}

// clearOverride writes a newline, which the kernel reads as "no override".
func (s Sysfs) clearOverride(a Addr) error {
	err := s.write(filepath.Join(s.DevicePath(a), "driver_override"), "\n")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clear driver_override: %w", err)
	}
	return nil
}
