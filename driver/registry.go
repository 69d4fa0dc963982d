package driver

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/uiodrv/uiodrv/mmio"
)

// A family registers itself with Register from an init function, the way a
// database/sql driver does, so that whoever imports the family's package can
// open its models by PCI ID without naming the family:
//
//	import _ "github.com/uiodrv/uiodrv/driver/e1000"
//
// The registry knows PCI IDs, model names and limits; it does not read sysfs
// or open devices itself (the core imports no bus package). The bus-side
// front door reads a device's ID, calls Lookup and then the family's Open.

// PCIID is a PCI vendor and device ID.
type PCIID struct{ Vendor, Device uint16 }

func (id PCIID) String() string { return fmt.Sprintf("%04x:%04x", id.Vendor, id.Device) }

// Model is one NIC model a family drives.
type Model struct {
	ID   PCIID
	Name string // the part, e.g. "82540EM"
	// MaxQueues is how many RX/TX queue pairs the driver runs on the model
	// (1 for a single-queue NIC, on which RSS is refused).
	MaxQueues int
	// MSIX says the model has MSI-X vectors the driver can use
	// (OpenOptions.MSIX; families that always use them set it too).
	MSIX bool
	// Verified says the model was driven in the lab, not only written from
	// its datasheet.
	Verified bool
}

func (m Model) String() string { return m.Name }

// OpenOptions configure a family's Open. They are family-neutral: each field
// means the same on every family, and a family refuses (in Check, before the
// device is opened) what its model cannot do. Zero values are the defaults.
type OpenOptions struct {
	// Backend reaches the device: BackendVFIO (the zero value) or BackendUIO.
	Backend Backend
	// Hugepages backs VFIO DMA memory with 2 MiB pages (UIO always uses them).
	Hugepages bool
	// Poll attaches no interrupt (busy polling): the opened NIC's
	// Info().Vectors is empty.
	Poll bool
	// Queues is the number of RX/TX queue pairs, 1..Model.MaxQueues; 0
	// means 1. More than one spreads flows by RSS.
	Queues int
	// RingSize is the number of RX and of TX descriptors per queue; 0 means
	// the family's default. Family.RingSizes says which sizes it accepts.
	RingSize int
	// ITR is the minimum interval between interrupts of one vector; the
	// family rounds it up to its register's unit. 0 disables throttling.
	ITR time.Duration
	// MSIX asks for one MSI-X vector per cause group where the model has
	// them (Model.MSIX); families that only work with MSI-X ignore it.
	MSIX bool
	// Promisc accepts every unicast and multicast frame.
	Promisc bool
	// CountRegs counts every register access (each a trap into QEMU or an
	// uncached PCIe round trip), at an atomic add per access.
	CountRegs bool
	// VFIOAPI picks BackendVFIO's interface: group/container or
	// iommufd/cdev; the zero value, VFIOAuto, takes the cdev where the
	// kernel offers it.
	VFIOAPI VFIOAPI
}

// Device is an opened NIC as a family's Open returns it: the NIC and its
// buffer pool for NewPort, and Close, which stops the NIC and then releases
// its interrupts, DMA memory and bus, in an order that never lets the NIC
// write freed memory. Close is idempotent.
type Device interface {
	Opened
	Close() error
}

// RingSizes is the set of descriptor-ring sizes a family accepts.
type RingSizes struct {
	Min, Max, Default int
	// Multiple is what every size must be a multiple of; PowerOfTwo asks
	// for a power of two instead.
	Multiple   int
	PowerOfTwo bool
}

// Check returns an error naming the accepted sizes unless n is one.
func (r RingSizes) Check(n int) error {
	ok := n >= r.Min && n <= r.Max
	if ok && r.PowerOfTwo {
		ok = n&(n-1) == 0
	}
	if ok && r.Multiple > 1 {
		ok = n%r.Multiple == 0
	}
	if ok {
		return nil
	}
	return fmt.Errorf("%w: ring size %d: want %v", ErrBadConfig, n, r)
}

// String says which sizes are accepted, e.g. "a power of two from 8 to 4096".
func (r RingSizes) String() string {
	what := "any size"
	switch {
	case r.PowerOfTwo:
		what = "a power of two"
	case r.Multiple > 1:
		what = fmt.Sprintf("a multiple of %d", r.Multiple)
	}
	return fmt.Sprintf("%s from %d to %d", what, r.Min, r.Max)
}

// Family is a NIC driver family as it registers itself.
type Family struct {
	// Name is the family's short name, e.g. "e1000"; it is unique.
	Name   string
	Models []Model
	// RingSizes are the descriptor-ring sizes the family accepts.
	RingSizes RingSizes
	// MaxITR is the longest interrupt interval the family's throttling
	// register can hold (OpenOptions.ITR); 0 means it has none to offer.
	MaxITR time.Duration
	// MSIXOnly says the family takes its interrupts by MSI-X alone
	// (OpenOptions.MSIX is implied): over uio_pci_generic, which delivers
	// INTx only, it runs busy polling and nothing else (CheckOptions).
	MSIXOnly bool
	// Check refuses options the model cannot run (a queue count, MSI-X on
	// a model without it), before anything is opened. nil means the
	// registry's generic checks (queues, ring size, interval, MSI-X over
	// UIO) suffice.
	Check func(m Model, o OpenOptions) error
	// Open opens, initialises and arms the device at the canonical PCI
	// address bdf, which the caller found to be model m. On error nothing
	// is left open.
	Open func(bdf string, m Model, o OpenOptions) (Device, error)
	// StopDMA, when set, stops the NIC through its registers alone: masks
	// its interrupts and clears RX and TX enable. A process that is being
	// forced out calls it on a BAR mapping of its own before it clears Bus
	// Master Enable, so that a UIO device (which nothing resets) keeps no
	// ring address it could write through on the next run.
	StopDMA func(regs mmio.Regs)
}

// ErrUnsupportedDevice is wrapped by Lookup for a PCI ID no registered family
// drives; the message lists the IDs that are.
var ErrUnsupportedDevice = errors.New("unsupported device")

var registry struct {
	mu       sync.RWMutex
	families []*Family
	byID     map[PCIID]int // index into families
}

// Register makes a family's models openable. It panics on a nil Open, an
// empty or duplicate name, or a PCI ID another family already registered:
// those are programming errors caught at init.
func Register(f *Family) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if f == nil || f.Name == "" || f.Open == nil || len(f.Models) == 0 {
		panic("driver: Register: a family needs a name, models and Open")
	}
	if registry.byID == nil {
		registry.byID = make(map[PCIID]int)
	}
	for _, g := range registry.families {
		if g.Name == f.Name {
			panic("driver: Register: family " + f.Name + " registered twice")
		}
	}
	for _, m := range f.Models {
		if i, dup := registry.byID[m.ID]; dup {
			panic(fmt.Sprintf("driver: Register: %s: PCI ID %v already registered by %s", f.Name, m.ID, registry.families[i].Name))
		}
		if m.MaxQueues < 1 {
			panic(fmt.Sprintf("driver: Register: %s: model %s has no queue", f.Name, m.Name))
		}
	}
	registry.families = append(registry.families, f)
	for _, m := range f.Models {
		registry.byID[m.ID] = len(registry.families) - 1
	}
}

// Lookup finds the family and model of a PCI ID.
func Lookup(id PCIID) (*Family, Model, error) {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	if i, ok := registry.byID[id]; ok {
		f := registry.families[i]
		for _, m := range f.Models {
			if m.ID == id {
				return f, m, nil
			}
		}
	}
	return nil, Model{}, fmt.Errorf("%w: PCI ID %v (supported: %s)", ErrUnsupportedDevice, id, supportedLocked())
}

// Families lists the registered families, by name.
func Families() []*Family {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	fs := append([]*Family(nil), registry.families...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	return fs
}

func supportedLocked() string {
	if len(registry.families) == 0 {
		return "none: no driver family is linked in; import one, e.g. _ \"github.com/uiodrv/uiodrv/driver/e1000\""
	}
	var parts []string
	for _, f := range registry.families {
		for _, m := range f.Models {
			parts = append(parts, fmt.Sprintf("%v %s (%s)", m.ID, m.Name, f.Name))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// CheckOptions refuses options model m of family f cannot run: the generic
// limits first (queues, ring size, interval), then the family's own Check,
// then MSI-X over a backend that cannot deliver it. It touches no device.
func CheckOptions(f *Family, m Model, o OpenOptions) error {
	switch {
	case o.Queues < 0:
		return &OptionError{"Queues", m.Name, fmt.Sprintf("cannot run %d queues: ask for 1 to %d", o.Queues, m.MaxQueues)}
	case o.Queues > 1 && m.MaxQueues == 1:
		return &OptionError{"Queues", m.Name, "is a single-queue NIC, so RSS cannot spread flows over queues: ask for 1 queue"}
	case o.Queues > m.MaxQueues:
		return &OptionError{"Queues", m.Name, fmt.Sprintf("has %d queues: ask for %d or fewer", m.MaxQueues, m.MaxQueues)}
	}
	if o.RingSize != 0 {
		if err := f.RingSizes.Check(o.RingSize); err != nil {
			return &OptionError{"RingSize", m.Name, fmt.Sprintf("cannot take rings of %d descriptors: want %v", o.RingSize, f.RingSizes)}
		}
	}
	if o.ITR < 0 {
		return &OptionError{"ITR", m.Name, fmt.Sprintf("cannot throttle at a negative interval %v: use 0 (off) or more", o.ITR)}
	}
	if o.ITR > f.MaxITR {
		return &OptionError{"ITR", m.Name, fmt.Sprintf("throttles interrupts at most %v apart: ask for %v or less", f.MaxITR, f.MaxITR)}
	}
	if f.Check != nil {
		if err := f.Check(m, o); err != nil {
			return err
		}
	}
	return checkMSIXBackend(f, m, o)
}

// checkMSIXBackend refuses MSI-X where it cannot be had: uio_pci_generic
// delivers INTx only, so a model asked for MSI-X, or of a family that takes
// its interrupts by MSI-X alone and is not polled, needs VFIO. It runs
// after the family's Check, which refuses MSI-X on a model without it.
func checkMSIXBackend(f *Family, m Model, o OpenOptions) error {
	if o.Backend == BackendVFIO {
		return nil
	}
	switch {
	case o.MSIX && m.MSIX && !f.MSIXOnly:
		return &OptionError{"MSIX", m.Name, "gets MSI-X only through VFIO (uio_pci_generic offers INTx): use the vfio backend, or leave MSI-X off"}
	case f.MSIXOnly && !o.Poll:
		return &OptionError{"Backend", m.Name, "takes its interrupts by MSI-X, which uio_pci_generic cannot deliver: use the vfio backend, or busy polling"}
	}
	return nil
}

// ITRUnits is o.ITR in units of a family's throttling register, rounded up
// so that throttling asked for stays on.
func (o OpenOptions) ITRUnits(unit time.Duration) uint32 {
	return uint32((o.ITR + unit - 1) / unit)
}

// An OptionError is a family's or CheckOptions' refusal of one option for
// one model. Option names the OpenOptions field ("Queues", "MSIX",
// "Backend", "RingSize", "ITR") so that a front end can name its own flag
// instead; Reason completes "the <Model> ..." and says what to do instead,
// e.g. "has no MSI-X (of its family only the 82574L has): leave MSI-X off".
type OptionError struct {
	Option string
	Model  string
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("%s: the %s %s", e.Option, e.Model, e.Reason)
}

// Unwrap makes every OptionError an ErrBadConfig.
func (e *OptionError) Unwrap() error { return ErrBadConfig }

// OpenWith makes a Family.Open from a family's own Open, which returns its
// concrete device type, and adapt, which maps the core's options to the
// family's. It never hands back a typed nil inside a non-nil Device: a
// failed open is (nil, err).
func OpenWith[O any, D Device](open func(bdf string, o O) (D, error), adapt func(OpenOptions) O) func(string, Model, OpenOptions) (Device, error) {
	return func(bdf string, _ Model, o OpenOptions) (Device, error) {
		d, err := open(bdf, adapt(o)) // the family reads the model from the device itself
		if err != nil {
			return nil, err
		}
		return d, nil
	}
}
