package igb

import (
	"errors"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// The family registers every PCI ID of its table, with the model's queues,
// MSI-X on all and only the 82576 verified.
func TestRegistered(t *testing.T) {
	for id, want := range deviceIDs {
		f, m, err := driver.Lookup(driver.PCIID{Vendor: VendorIntel, Device: id})
		if err != nil {
			t.Fatalf("%04x: %v", id, err)
		}
		if f.Name != "igb" || m.Name != want.Name || m.MaxQueues != want.MaxQueues || !m.MSIX || m.Verified != (want == Model82576) {
			t.Errorf("%04x: registered as %s %+v", id, f.Name, m)
		}
		if f.RingSizes.Default != DefaultRingSize || f.RingSizes.Check(24) != nil || f.RingSizes.Check(20) == nil {
			t.Errorf("ring sizes %+v", f.RingSizes)
		}
	}
}

func TestCheck(t *testing.T) {
	f, m82576, _ := driver.Lookup(driver.PCIID{Vendor: VendorIntel, Device: 0x10c9})
	_, i211, _ := driver.Lookup(driver.PCIID{Vendor: VendorIntel, Device: 0x1539})
	for _, c := range []struct {
		name   string
		m      driver.Model
		o      driver.OpenOptions
		option string // "" when accepted
	}{
		{"defaults", m82576, driver.OpenOptions{}, ""},
		{"16 queues on the 82576", m82576, driver.OpenOptions{Queues: 16}, ""},
		{"17 queues on the 82576", m82576, driver.OpenOptions{Queues: 17}, "Queues"},
		{"3 queues on the I211", i211, driver.OpenOptions{Queues: 3}, "Queues"},
		{"UIO with interrupts", m82576, driver.OpenOptions{Backend: driver.BackendUIO}, "Backend"},
		{"UIO polling", m82576, driver.OpenOptions{Backend: driver.BackendUIO, Poll: true}, ""},
		{"MSIX asked", m82576, driver.OpenOptions{MSIX: true}, ""},
		{"ring of 24", m82576, driver.OpenOptions{RingSize: 24}, ""},
		{"ring of 20", m82576, driver.OpenOptions{RingSize: 20}, "RingSize"},
		{"ITR at its maximum", m82576, driver.OpenOptions{ITR: maxEITR * time.Microsecond}, ""},
		{"ITR above", m82576, driver.OpenOptions{ITR: maxEITR*time.Microsecond + 1}, "ITR"},
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
		Queues: 4, RingSize: 512, ITR: 128 * time.Microsecond, MSIX: true, Promisc: true,
	})
	if o.Backend != driver.BackendUIO || !o.Hugepages || !o.Poll || !o.CountRegs || o.Buffers != 0 ||
		o.NIC.Queues != 4 || o.NIC.RxRingSize != 512 || o.NIC.TxRingSize != 512 || o.NIC.ITR != 128 ||
		!o.NIC.Promisc || o.NIC.RSS != nil || o.NIC.Vectors != nil {
		t.Errorf("got %+v", o)
	}
	// The CLI's --itr 500 (units of 256 ns, 128 µs) stays 128 µs; a part
	// of a microsecond rounds up so that throttling stays on.
	for _, c := range []struct {
		itr  time.Duration
		want uint32
	}{{0, 0}, {1, 1}, {500 * 256, 128}, {999, 1}, {1001, 2}} {
		if got := openOptions(driver.OpenOptions{ITR: c.itr}).NIC.ITR; got != c.want {
			t.Errorf("ITR %v: %d µs, want %d", c.itr, got, c.want)
		}
	}
}
