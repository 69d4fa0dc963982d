package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/uiodrv/uiodrv/bus"
)

// The previous driver of a device bound with 'uiodrv bind' is kept in
// <state-dir>/<BDF>.driver (default /run/uiodrv, a tmpfs: the record goes
// away at reboot, as the binding does). It is written before the device is
// rebound and only when no record exists yet, so binding twice keeps the
// original driver; 'uiodrv unbind' restores it and deletes the record.
var defaultStateDir = "/run/uiodrv" // a variable for the CLI fuzz test

// sysfsRoot is the default of every command's hidden --sysfs flag (tests
// and the CLI fuzz test point it at a fake tree).
var sysfsRoot = bus.DefaultSysfsRoot

const bindUsage = `Usage: uiodrv bind --dev BDF [--driver vfio-pci|uio_pci_generic]

Binds the NIC to vfio-pci (the default) or uio_pci_generic so that uiodrv can
drive it, remembering its current driver in /run/uiodrv/<BDF>.driver for
'uiodrv unbind'. Before it writes anything it refuses, unless --force, a device
that is not a network controller (PCI class 02) or not a NIC uiodrv drives
(a typo must not take a disk controller from its driver), and a NIC whose
kernel interface is up (the machine may be using it). If the new driver does
not take the device, the previous driver gets it back and the record is kept
until it has. The record folder must be root's and writable by no one else;
records are mode 0600, written to a temporary file and renamed into place.

Examples:
  uiodrv bind --dev 0000:00:03.0
  uiodrv bind --dev 0000:00:03.0 --driver uio_pci_generic

Flags:
`

const unbindUsage = `Usage: uiodrv unbind --dev BDF

Unbinds the NIC from vfio-pci or uio_pci_generic and gives it back to the
driver it had before 'uiodrv bind' (recorded in /run/uiodrv/<BDF>.driver).
Before it writes anything it refuses, unless --force, a device with no record
(uiodrv bind did not bind it: a typo must not pull a device from a VM), a
device that is not a network controller (PCI class 02), and a record it cannot
trust (a symbolic link, an empty file, not a driver name). With --force and no
record it leaves the device on no driver and says how to rebind it.

Examples:
  uiodrv unbind --dev 0000:00:03.0

Flags:
`

type bindFlags struct {
	dev, driver, stateDir, sysfs string
	force                        bool
}

func (f *bindFlags) add(fs *pflag.FlagSet, withDriver bool) {
	fs.StringVarP(&f.dev, "dev", "d", "", "PCI address of the NIC, e.g. 0000:00:03.0 (required)")
	if withDriver {
		fs.StringVar(&f.driver, "driver", "vfio-pci", "vfio-pci or uio_pci_generic")
	}
	fs.BoolVar(&f.force, "force", false, "rebind even a device uiodrv would refuse (not a supported NIC, interface up, or a driver other than vfio-pci/uio_pci_generic)")
	fs.StringVar(&f.stateDir, "state-dir", defaultStateDir, "where the previous driver is recorded")
	fs.StringVar(&f.sysfs, "sysfs", sysfsRoot, "sysfs mount point")
	_ = fs.MarkHidden("sysfs")
}

func cmdBind(e *env, args []string) int {
	var f bindFlags
	fs := pflag.NewFlagSet("bind", pflag.ContinueOnError)
	f.add(fs, true)
	if st, done := parseFlags(e, fs, "bind", bindUsage, args); done {
		return st
	}
	return report(e.stderr, "bind", bind(e, &f))
}

func cmdUnbind(e *env, args []string) int {
	var f bindFlags
	fs := pflag.NewFlagSet("unbind", pflag.ContinueOnError)
	f.add(fs, false)
	if st, done := parseFlags(e, fs, "unbind", unbindUsage, args); done {
		return st
	}
	return report(e.stderr, "unbind", unbind(e, &f))
}

func parseDev(dev string) (bus.Addr, error) {
	if dev == "" {
		return bus.Addr{}, usagef("--dev is required (see uiodrv list)")
	}
	a, err := bus.ParseAddr(dev)
	if err != nil {
		return a, usageError{fmt.Errorf("--dev %q: %w", dev, err)}
	}
	return a, nil
}

// newSysfs returns the sysfs tree at root (tests add a simulated kernel).
var newSysfs = func(root string) bus.Sysfs { return bus.Sysfs{Root: root} }

// errNotNetwork: bind was asked to take a device that is not a network controller.
var errNotNetwork = errors.New("not a network controller")

// bindable refuses what uiodrv bind must not take without --force: a
// device that is not a network controller (PCI class 02), or a NIC that is
// not one of the models uiodrv drives. It only reads sysfs.
func bindable(dev *bus.Device) error {
	if !bus.IsNetwork(dev.Class) {
		return fmt.Errorf("%w: %s is a %s (class %04x): %04x:%04x %s; not binding it (check the address with uiodrv list --all, pass --force only if you mean this device)",
			errNotNetwork, dev.Addr, dev.ClassName(), dev.Class>>8, dev.Vendor, dev.DeviceID, dev.DeviceName())
	}
	if _, err := lookupNIC(dev.Vendor, dev.DeviceID); err != nil {
		return fmt.Errorf("%s is %s %s, which uiodrv does not drive; not binding it (pass --force to bind it anyway): %w",
			dev.Addr, dev.VendorName(), dev.DeviceName(), err)
	}
	return nil
}

func bind(e *env, f *bindFlags) error {
	a, err := parseDev(f.dev)
	if err != nil {
		return err
	}
	if f.driver != "vfio-pci" && f.driver != "uio_pci_generic" {
		return usagef("--driver %q: want vfio-pci or uio_pci_generic", f.driver)
	}
	s := newSysfs(f.sysfs)
	dev, err := s.Lookup(a)
	if err != nil {
		return err
	}
	if err := bindable(dev); err != nil {
		if !f.force {
			return err
		}
		fmt.Fprintf(e.stderr, "warning: --force: %v\n", err)
	}
	if dev.Driver == f.driver {
		fmt.Fprintf(e.stdout, "%s is already bound to %s\n", a, f.driver)
		return nil
	}
	if _, err := os.Stat(s.DriverPath(f.driver)); err != nil {
		return fmt.Errorf("%w: %s is missing (modprobe %s)", errNoModule, s.DriverPath(f.driver), f.driver)
	}
	if up := upInterfaces(s, a); len(up) > 0 && !f.force {
		return fmt.Errorf("%s is in use: its interface %s is up; take it down first (ip link set %s down) or pass --force",
			a, strings.Join(up, ","), up[0])
	}
	if f.driver == "vfio-pci" && dev.IOMMUGroup < 0 {
		fmt.Fprintf(e.stderr, "warning: %s has no IOMMU group: vfio-pci will not be usable (enable the IOMMU, or bind --driver uio_pci_generic)\n", a)
	}
	st := f.records()
	recorded, err := recordDriver(st, a, dev.Driver)
	if err != nil {
		return err
	}
	if _, err := s.Bind(a, f.driver); err != nil {
		// Sysfs.Bind gave the device back to its previous driver unless it
		// says ErrRestoreFailed: only then is the record still needed.
		if errors.Is(err, bus.ErrRestoreFailed) {
			return fmt.Errorf("%w\n  the previous driver stays recorded in %s: after fixing the cause, uiodrv unbind --dev %s gives it back",
				err, st.Record(a), a)
		}
		if recorded {
			st.Remove(a)
		}
		return err
	}
	prev := dev.Driver
	if prev == "" {
		prev = "no driver"
	}
	fmt.Fprintf(e.stdout, "%s: %s -> %s (previous driver recorded in %s)\n", a, prev, f.driver, st.Record(a))
	return nil
}

// stateDir is the record folder of f: it must belong to the user running
// uiodrv (root: bind and unbind write sysfs) and be writable by no one else.
func (f *bindFlags) records() bus.StateDir {
	return bus.StateDir{Path: f.stateDir, Owner: os.Geteuid()}
}

// recordDriver records the device's current driver unless a record exists
// already (binding twice keeps the original driver). It reports whether it
// wrote one.
func recordDriver(st bus.StateDir, a bus.Addr, drv string) (bool, error) {
	if err := st.Create(); err != nil {
		return false, fmt.Errorf("record previous driver: %w", err)
	}
	ok, err := st.Write(a, drv)
	if err != nil {
		return false, fmt.Errorf("record previous driver: %w", err)
	}
	return ok, nil
}

// readRecord returns a's recorded driver; recorded is false when there is
// no state folder or no record. A folder or record that cannot be trusted
// is an error.
func readRecord(st bus.StateDir, a bus.Addr) (prev string, recorded bool, err error) {
	if err := st.Check(); errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	} else if err != nil {
		return "", false, err
	}
	return st.Read(a)
}

// errNoRecord: unbind found no record of the device's previous driver.
var errNoRecord = errors.New("no record of the previous driver")

func unbind(e *env, f *bindFlags) error {
	a, err := parseDev(f.dev)
	if err != nil {
		return err
	}
	s := newSysfs(f.sysfs)
	dev, err := s.Lookup(a)
	if err != nil {
		return err
	}
	if dev.Driver != "" && dev.Driver != "vfio-pci" && dev.Driver != "uio_pci_generic" && !f.force {
		return fmt.Errorf("%s is bound to %s, not to vfio-pci or uio_pci_generic: not unbinding it (pass --force to)", a, dev.Driver)
	}
	st := f.records()
	prev, recorded, err := readRecord(st, a)
	if err != nil {
		if !f.force {
			return fmt.Errorf("%w; not unbinding %s (pass --force to unbind it anyway, leaving it on no driver)", err, a)
		}
		fmt.Fprintf(e.stderr, "warning: --force: %v\n", err)
		prev, recorded = "", false
	}
	// Without --force unbind only undoes what bind did: a device with no
	// record (a typo may name a GPU passed to a VM) or one that is not a
	// network controller is left alone, before anything is written.
	if !f.force {
		if !bus.IsNetwork(dev.Class) {
			return fmt.Errorf("%w: %s is a %s (class %04x): %04x:%04x %s; not unbinding it (check the address with uiodrv list --all, pass --force only if you mean this device)",
				errNotNetwork, a, dev.ClassName(), dev.Class>>8, dev.Vendor, dev.DeviceID, dev.DeviceName())
		}
		if !recorded {
			return fmt.Errorf("%w: %s has no record in %s, so uiodrv bind did not bind it (or the record is gone); not unbinding it (pass --force to unbind it anyway, leaving it on no driver)",
				errNoRecord, a, st.Record(a))
		}
	}
	if prev == dev.Driver && prev != "" {
		st.Remove(a)
		fmt.Fprintf(e.stdout, "%s is already bound to %s\n", a, prev)
		return nil
	}
	if err := s.Unbind(a); err != nil {
		return err
	}
	if prev == "" {
		if recorded {
			st.Remove(a)
			fmt.Fprintf(e.stdout, "%s: unbound (it had no driver before uiodrv bind)\n", a)
		} else {
			fmt.Fprintf(e.stdout, "%s: unbound; no previous driver recorded in %s, so it stays on no driver (echo %s > %s/bind to give it to a driver)\n",
				a, st.Record(a), a, s.DriverPath("DRIVER"))
		}
		return nil
	}
	if err := s.Attach(a, prev); err != nil {
		return fmt.Errorf("%s: unbound, but giving it back to %s failed: %w (modprobe %s, then echo %s > %s/bind; the record stays in %s)",
			a, prev, err, prev, a, s.DriverPath(prev), st.Record(a))
	}
	st.Remove(a)
	from := dev.Driver
	if from == "" {
		from = "no driver"
	}
	fmt.Fprintf(e.stdout, "%s: %s -> %s (restored)\n", a, from, prev)
	return nil
}

// upInterfaces returns the device's kernel interfaces that are up (IFF_UP).
func upInterfaces(s bus.Sysfs, a bus.Addr) []string {
	var up []string
	for _, name := range interfaces(s, a) {
		root := s.Root
		if root == "" {
			root = bus.DefaultSysfsRoot
		}
		b, err := os.ReadFile(filepath.Join(root, "class/net", name, "flags"))
		if err != nil {
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 32)
		if err == nil && flags&1 != 0 { // IFF_UP
			up = append(up, name)
		}
	}
	return up
}
