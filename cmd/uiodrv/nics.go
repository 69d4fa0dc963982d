package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/uiodrv/uiodrv"
	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
)

// The run command picks the driver from the device's PCI ID in sysfs,
// before the device is opened, so that every option can be checked against
// the model first. The families register themselves (the uiodrv package
// links them all in); this file is the CLI's only view of them.

// nicModel is a model uiodrv drives and the family that registered it, as
// the front door's Found, whose Open the run command uses. Addr and Device
// are set when the model was read from a device (probeNIC).
type nicModel struct{ *uiodrv.Found }

func (m nicModel) String() string { return m.Model.Name }

// lookupNIC finds the model of a PCI ID in the registry. An unknown ID gives
// an error wrapping driver.ErrUnsupportedDevice, which lists every supported ID.
func lookupNIC(vendor, device uint16) (nicModel, error) {
	f, m, err := driver.Lookup(driver.PCIID{Vendor: vendor, Device: device})
	if err != nil {
		return nicModel{}, err
	}
	return nicModel{&uiodrv.Found{Family: f, Model: m}}, nil
}

// probeNIC is lookupNIC for a device read from sysfs.
func probeNIC(dev *bus.Device) (nicModel, error) {
	m, err := lookupNIC(dev.Vendor, dev.DeviceID)
	if err != nil {
		return m, err
	}
	m.Addr, m.Device = dev.Addr, dev
	return m, nil
}

// checkQueues refuses a queue count the model cannot run: above its queues,
// or several (RSS) on a single-queue NIC.
func checkQueues(addr string, m driver.Model, queues int) error {
	switch {
	case queues <= 1:
		return nil
	case m.MaxQueues == 1:
		return usagef("--queues %d: %s is %s, a single-queue NIC, so RSS cannot spread flows over queues: use --queues 1 (or a multi-queue NIC: %s)",
			queues, addr, aModel(m.Name), strings.Join(multiQueueModels(), ", "))
	case queues > m.MaxQueues:
		return usagef("--queues %d: %s is %s, which has %d queues: use --queues %d or fewer", queues, addr, aModel(m.Name), m.MaxQueues, m.MaxQueues)
	}
	return nil
}

// flagFor names the run command's flag, with its value, for the
// driver.OpenOptions field a family refused (driver.OptionError.Option).
func (f *runFlags) flagFor(option string, o driver.OpenOptions) string {
	switch option {
	case "Backend":
		return "--backend " + o.Backend.String()
	case "Queues":
		return fmt.Sprintf("--queues %d", o.Queues)
	case "RingSize":
		return fmt.Sprintf("--ring-size %d", o.RingSize)
	case "ITR":
		return fmt.Sprintf("--itr %d", f.itr)
	case "MSIX":
		return "--msix"
	case "Poll":
		return "--mode " + f.parsedMode.String()
	case "Promisc":
		return "--promisc"
	}
	return option
}

// checkFound asks the device's family whether it can run o, and turns a
// refusal into a usage error that names the flag: nothing is opened.
func (f *runFlags) checkFound(fd nicModel, o driver.OpenOptions) error {
	err := driver.CheckOptions(fd.Family, fd.Model, o)
	if err == nil {
		return nil
	}
	var oe *driver.OptionError
	if errors.As(err, &oe) {
		return f.optionUsage(oe, fd.Addr, o)
	}
	return usagef("%s is %s: %v", fd.Addr, aModel(fd.Model.Name), err)
}

// optionUsage is a family's refusal of one option as a usage error that
// names the run command's flag for it.
func (f *runFlags) optionUsage(oe *driver.OptionError, addr any, o driver.OpenOptions) error {
	return usagef("%s: %s is %s, which %s", f.flagFor(oe.Option, o), addr, aModel(oe.Model), oe.Reason)
}

// multiQueueModels names the registered models with more than one queue.
func multiQueueModels() []string {
	var names []string
	seen := map[string]bool{}
	for _, f := range driver.Families() {
		for _, m := range f.Models {
			if m.MaxQueues > 1 && !seen[m.Name] {
				seen[m.Name] = true
				names = append(names, m.Name)
			}
		}
	}
	return names
}

// supportedNICs lists the registered families and their models, each with
// its PCI IDs, e.g. "fam: M1 (8086:0001/0002), M2 (8086:0003)".
func supportedNICs(sep string) string {
	var fams []string
	for _, f := range driver.Families() {
		var order []string
		ids := map[string][]string{}
		vendor := map[string]uint16{}
		for _, m := range f.Models {
			if _, ok := ids[m.Name]; !ok {
				order = append(order, m.Name)
				vendor[m.Name] = m.ID.Vendor
			}
			ids[m.Name] = append(ids[m.Name], fmt.Sprintf("%04x", m.ID.Device))
		}
		parts := make([]string, len(order))
		for i, name := range order {
			parts[i] = fmt.Sprintf("%s (%04x:%s)", name, vendor[name], strings.Join(ids[name], "/"))
		}
		fams = append(fams, f.Name+": "+strings.Join(parts, ", "))
	}
	if len(fams) == 0 {
		return "no family is linked in"
	}
	return strings.Join(fams, sep)
}

// ringSizeRule says which --ring-size values some family accepts, each
// family's rule named.
func ringSizeRule() string {
	var rules []string
	for _, f := range driver.Families() {
		rules = append(rules, fmt.Sprintf("%v (%s)", f.RingSizes, f.Name))
	}
	sort.Strings(rules)
	return strings.Join(rules, "; ")
}

// checkRingSize refuses a --ring-size no registered family accepts; the
// device's own family checks it again once the device is known.
func checkRingSize(n int) error {
	for _, f := range driver.Families() {
		if f.RingSizes.Check(n) == nil {
			return nil
		}
	}
	return usagef("--ring-size %d: want %s", n, ringSizeRule())
}

// openedNIC is an opened device as the run command holds it.
type openedNIC = driver.Device

// defaultRingSize is --ring-size's default, which every shipped family
// accepts.
const defaultRingSize = 512

// errUnknownFamily: openDevice was asked for a device prepare never looked up.
var errUnknownFamily = errors.New("device model not looked up")

// openOptions are the family-neutral options the run opens a with: --dev
// runs --queues, a forward device one queue.
func (f *runFlags) openOptions(a bus.Addr) driver.OpenOptions {
	queues := 1
	if a == f.addr {
		queues = f.queues
	}
	return driver.OpenOptions{
		Backend:   f.parsedBack,
		Hugepages: f.hugepages,
		Poll:      f.parsedMode == deferral.ModeBusyPoll,
		Queues:    queues,
		RingSize:  f.ringSize,
		ITR:       time.Duration(f.itr) * itrUnit,
		MSIX:      f.msix,
		Promisc:   f.promisc,
		VFIOAPI:   driver.VFIOAPI(f.apiFor(a.String())), // vfioapi.go: what prepare chose
	}
}

// itrUnit is the unit of --itr (ITR's classic 256 ns): a family converts
// the interval to its own register's unit.
const itrUnit = 256 * time.Nanosecond

// uioPollOnly reports whether m's family refuses interrupts over
// uio_pci_generic but polls there.
func uioPollOnly(m nicModel) bool {
	o := driver.OpenOptions{Backend: driver.BackendUIO}
	if driver.CheckOptions(m.Family, m.Model, o) == nil {
		return false
	}
	o.Poll = true
	return driver.CheckOptions(m.Family, m.Model, o) == nil
}

// familyNames lists the registered families' names, e.g. "fam1, fam2".
func familyNames() string {
	var names []string
	for _, f := range driver.Families() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// aModel puts the indefinite article a model's name takes when read aloud
// before it: "an" before a vowel and before an 8 (read "eighty-..."), "a"
// before anything else.
func aModel(name string) string {
	if name != "" && strings.ContainsRune("aeiou8", unicode.ToLower(rune(name[0]))) {
		return "an " + name
	}
	return "a " + name
}
