package e1000

import (
	"errors"
	"github.com/uiodrv/uiodrv/bus"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// The family registers every model of its table under its PCI ID, with one
// queue each and MSI-X on the 82574L only.
func TestRegistered(t *testing.T) {
	for _, e := range models {
		f, m, err := driver.Lookup(driver.PCIID{Vendor: IntelVendor, Device: e.device})
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if f.Name != "e1000" || m.Name != e.name || m.MaxQueues != 1 || m.MSIX != (e.model == Model82574L) {
			t.Errorf("%04x: registered as %s %+v", e.device, f.Name, m)
		}
		if f.RingSizes.Default != DefaultRingSize || f.RingSizes.Check(4096) != nil || f.RingSizes.Check(24) == nil {
			t.Errorf("ring sizes %+v", f.RingSizes)
		}
	}
}

func TestCheck(t *testing.T) {
	f, em, _ := driver.Lookup(driver.PCIID{Vendor: IntelVendor, Device: 0x100e})
	_, e2, _ := driver.Lookup(driver.PCIID{Vendor: IntelVendor, Device: 0x10d3})
	for _, c := range []struct {
		name   string
		m      driver.Model
		o      driver.OpenOptions
		option string // "" when accepted
	}{
		{"defaults", em, driver.OpenOptions{}, ""},
		{"MSI-X on the 82574L", e2, driver.OpenOptions{MSIX: true}, ""},
		{"MSI-X on the 82540EM", em, driver.OpenOptions{MSIX: true}, "MSIX"},
		{"MSI-X over UIO", e2, driver.OpenOptions{MSIX: true, Backend: driver.BackendUIO}, "MSIX"},
		{"two queues", em, driver.OpenOptions{Queues: 2}, "Queues"},
		{"ring of 24", em, driver.OpenOptions{RingSize: 24}, "RingSize"},
		{"ITR at its maximum", em, driver.OpenOptions{ITR: 0xFFFF * 256 * time.Nanosecond}, ""},
		{"ITR above", em, driver.OpenOptions{ITR: 0x10000 * 256 * time.Nanosecond}, "ITR"},
		{"UIO with interrupts", em, driver.OpenOptions{Backend: driver.BackendUIO}, ""},
	} {
		err := driver.CheckOptions(f, c.m, c.o)
		var oe *driver.OptionError
		switch {
		case c.option == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.option != "" && (!errors.As(err, &oe) || oe.Option != c.option || !errors.Is(err, driver.ErrBadConfig)):
			t.Errorf("%s: %v, want an OptionError on %s", c.name, err, c.option)
		}
	}
}

func TestOpenOptions(t *testing.T) {
	o := openOptions(driver.OpenOptions{
		Backend: driver.BackendUIO, Hugepages: true, Poll: true, CountRegs: true,
		RingSize: 256, ITR: 128 * time.Microsecond, MSIX: true, Promisc: true,
	})
	want := OpenOptions{Access: bus.Access{Backend: driver.BackendUIO, Hugepages: true, CountRegs: true}, Poll: true,
		NIC: Options{RxRingSize: 256, TxRingSize: 256, ITR: 500, MSIX: true, Promisc: true}}
	if o != want {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
	for _, c := range []struct {
		itr  time.Duration
		want uint32
	}{{0, 0}, {1, 1}, {256, 1}, {257, 2}, {time.Millisecond, 3907}} {
		if got := openOptions(driver.OpenOptions{ITR: c.itr}).NIC.ITR; got != c.want {
			t.Errorf("ITR %v: %d units of 256 ns, want %d", c.itr, got, c.want)
		}
	}
}
