package igb

import (
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
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
	drivertest.CheckOptions(t, f, []drivertest.OptionCase{
		{Name: "defaults", Model: m82576, Opts: driver.OpenOptions{}},
		{Name: "16 queues on the 82576", Model: m82576, Opts: driver.OpenOptions{Queues: 16}},
		{Name: "17 queues on the 82576", Model: m82576, Opts: driver.OpenOptions{Queues: 17}, Refuse: "Queues"},
		{Name: "3 queues on the I211", Model: i211, Opts: driver.OpenOptions{Queues: 3}, Refuse: "Queues"},
		{Name: "UIO with interrupts", Model: m82576, Opts: driver.OpenOptions{Backend: driver.BackendUIO}, Refuse: "Backend"},
		{Name: "UIO polling", Model: m82576, Opts: driver.OpenOptions{Backend: driver.BackendUIO, Poll: true}},
		{Name: "MSIX asked", Model: m82576, Opts: driver.OpenOptions{MSIX: true}},
		{Name: "ring of 24", Model: m82576, Opts: driver.OpenOptions{RingSize: 24}},
		{Name: "ring of 20", Model: m82576, Opts: driver.OpenOptions{RingSize: 20}, Refuse: "RingSize"},
		{Name: "ITR at its maximum", Model: m82576, Opts: driver.OpenOptions{ITR: maxEITR * time.Microsecond}},
		{Name: "ITR above", Model: m82576, Opts: driver.OpenOptions{ITR: maxEITR*time.Microsecond + 1}, Refuse: "ITR"},
	})
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
