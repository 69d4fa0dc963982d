package driver

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	saved := registry.families
	savedIDs := registry.byID
	t.Cleanup(func() { registry.families, registry.byID = saved, savedIDs })
	registry.families, registry.byID = nil, nil

	if _, _, err := Lookup(PCIID{0x8086, 0x100e}); !errors.Is(err, ErrUnsupportedDevice) || !strings.Contains(err.Error(), "import one") {
		t.Fatalf("empty registry: %v", err)
	}
	open := func(string, Model, OpenOptions) (Device, error) { return nil, nil }
	a := &Family{Name: "a", Open: open, RingSizes: RingSizes{Min: 8, Max: 4096, Default: 512, PowerOfTwo: true},
		Models: []Model{{ID: PCIID{1, 2}, Name: "A1", MaxQueues: 1}}}
	Register(a)
	f, m, err := Lookup(PCIID{1, 2})
	if err != nil || f != a || m.Name != "A1" {
		t.Fatalf("Lookup: %v %v %v", f, m, err)
	}
	if _, _, err := Lookup(PCIID{1, 3}); !errors.Is(err, ErrUnsupportedDevice) || !strings.Contains(err.Error(), "0001:0002 A1 (a)") {
		t.Fatalf("unknown ID: %v", err)
	}
	for _, bad := range []*Family{
		{Name: "a", Open: open, Models: []Model{{ID: PCIID{9, 9}, MaxQueues: 1}}}, // duplicate name
		{Name: "b", Open: open, Models: []Model{{ID: PCIID{1, 2}, MaxQueues: 1}}}, // duplicate ID
		{Name: "c", Models: []Model{{ID: PCIID{7, 7}, MaxQueues: 1}}},             // no Open
		{Name: "d", Open: open, Models: []Model{{ID: PCIID{8, 8}}}},               // no queue
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%s) did not panic", bad.Name)
				}
			}()
			Register(bad)
		}()
	}
	for _, c := range []struct {
		o  OpenOptions
		ok bool
	}{
		{OpenOptions{}, true},
		{OpenOptions{Queues: 1, RingSize: 256}, true},
		{OpenOptions{Queues: 2}, false},
		{OpenOptions{RingSize: 100}, false},
		{OpenOptions{RingSize: 8192}, false},
		{OpenOptions{ITR: -1}, false},
	} {
		var oe *OptionError
		if err := CheckOptions(a, m, c.o); (err == nil) != c.ok || (err != nil && (!errors.Is(err, ErrBadConfig) || !errors.As(err, &oe))) {
			t.Errorf("CheckOptions(%+v) = %v, want ok=%v", c.o, err, c.ok)
		}
	}
}

// MSI-X over UIO is refused in one place for every family: a model asked
// for MSI-X, or one of a family that takes interrupts by MSI-X alone unless
// it polls. A family's own Check runs first (a model without MSI-X is its
// refusal to word), and VFIO takes everything.
func TestCheckMSIXBackend(t *testing.T) {
	withMSIX := Model{Name: "M", MaxQueues: 1, MSIX: true}
	without := Model{Name: "N", MaxQueues: 1}
	some := &Family{Name: "some", MaxITR: 1, Check: func(m Model, o OpenOptions) error {
		if o.MSIX && !m.MSIX {
			return &OptionError{"MSIX", m.Name, "has none"}
		}
		return nil
	}}
	only := &Family{Name: "only", MaxITR: 1, MSIXOnly: true}
	uio := OpenOptions{Backend: BackendUIO}
	for _, c := range []struct {
		name string
		f    *Family
		m    Model
		o    OpenOptions
		want string // "" when accepted
	}{
		{"MSI-X over VFIO", some, withMSIX, OpenOptions{MSIX: true}, ""},
		{"MSI-X over UIO", some, withMSIX, OpenOptions{MSIX: true, Backend: BackendUIO}, "MSIX: the M gets MSI-X only through VFIO (uio_pci_generic offers INTx)"},
		{"MSI-X over UIO, polled", some, withMSIX, OpenOptions{MSIX: true, Backend: BackendUIO, Poll: true}, "MSIX: the M gets MSI-X only through VFIO"},
		{"MSI-X on a model without", some, without, OpenOptions{MSIX: true, Backend: BackendUIO}, "MSIX: the N has none"},
		{"INTx over UIO", some, withMSIX, uio, ""},
		{"MSI-X-only family over UIO", only, withMSIX, uio, "Backend: the M takes its interrupts by MSI-X, which uio_pci_generic cannot deliver"},
		{"MSI-X-only family over UIO, MSI-X asked", only, withMSIX, OpenOptions{MSIX: true, Backend: BackendUIO}, "Backend: the M takes its interrupts by MSI-X"},
		{"MSI-X-only family over UIO, polled", only, withMSIX, OpenOptions{MSIX: true, Backend: BackendUIO, Poll: true}, ""},
		{"MSI-X-only family over VFIO", only, withMSIX, OpenOptions{}, ""},
	} {
		err := CheckOptions(c.f, c.m, c.o)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrBadConfig)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// ITRUnits rounds up, so that a part of a unit still throttles.
func TestITRUnits(t *testing.T) {
	for _, c := range []struct {
		itr, unit time.Duration
		want      uint32
	}{{0, 256, 0}, {1, 256, 1}, {256, 256, 1}, {257, 256, 2}, {time.Millisecond, time.Microsecond, 1000}} {
		if got := (OpenOptions{ITR: c.itr}).ITRUnits(c.unit); got != c.want {
			t.Errorf("%v in units of %v: %d, want %d", c.itr, c.unit, got, c.want)
		}
	}
}
