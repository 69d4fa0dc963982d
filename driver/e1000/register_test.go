package e1000

import (
	"github.com/uiodrv/uiodrv/bus"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
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
	drivertest.CheckOptions(t, f, []drivertest.OptionCase{
		{Name: "defaults", Model: em, Opts: driver.OpenOptions{}},
		{Name: "MSI-X on the 82574L", Model: e2, Opts: driver.OpenOptions{MSIX: true}},
		{Name: "MSI-X on the 82540EM", Model: em, Opts: driver.OpenOptions{MSIX: true}, Refuse: "MSIX"},
		{Name: "MSI-X over UIO", Model: e2, Opts: driver.OpenOptions{MSIX: true, Backend: driver.BackendUIO}, Refuse: "MSIX"},
		{Name: "two queues", Model: em, Opts: driver.OpenOptions{Queues: 2}, Refuse: "Queues"},
		{Name: "ring of 24", Model: em, Opts: driver.OpenOptions{RingSize: 24}, Refuse: "RingSize"},
		{Name: "ITR at its maximum", Model: em, Opts: driver.OpenOptions{ITR: 0xFFFF * 256 * time.Nanosecond}},
		{Name: "ITR above", Model: em, Opts: driver.OpenOptions{ITR: 0x10000 * 256 * time.Nanosecond}, Refuse: "ITR"},
		{Name: "UIO with interrupts", Model: em, Opts: driver.OpenOptions{Backend: driver.BackendUIO}},
	})
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
