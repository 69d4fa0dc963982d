package bus

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver"

	"github.com/uiodrv/uiodrv/pci"
	"github.com/uiodrv/uiodrv/vfio"
)

// TestOpenBusErrorsDoNotPanic: every failure path returns an error and a nil
// Bus (a regression test: the deferred cleanup once closed a nil Bus).
func TestOpenBusErrorsDoNotPanic(t *testing.T) {
	for _, tc := range []struct {
		bdf string
		b   driver.Backend
	}{{"not-a-bdf", driver.BackendVFIO}, {"0000:00:1f.7", driver.BackendVFIO}, {"0000:00:1f.7", driver.BackendUIO}, {"0000:00:03.0", driver.Backend(9)}} {
		bus, err := Open(tc.bdf, tc.b, Options{})
		if err == nil || bus != nil {
			t.Errorf("Open(%q, %v) = %v, %v; want nil and an error", tc.bdf, tc.b, bus, err)
		}
	}
	if _, err := Open("zz", driver.BackendVFIO, Options{}); err == nil {
		t.Error("no error for a malformed address")
	} else if _, perr := pci.ParseAddr("zz"); perr == nil {
		t.Error("ParseAddr accepted zz")
	}
	var nilBus *Bus
	if err := nilBus.Close(); err != nil {
		t.Error(err)
	}
}

func TestParseBackend(t *testing.T) {
	for in, want := range map[string]driver.Backend{"vfio": driver.BackendVFIO, "VFIO": driver.BackendVFIO, "uio": driver.BackendUIO, "uio_pci_generic": driver.BackendUIO} {
		if got, err := driver.ParseBackend(in); err != nil || got != want {
			t.Errorf("driver.ParseBackend(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := driver.ParseBackend("dpdk"); err == nil {
		t.Error("driver.ParseBackend(dpdk) succeeded")
	}
}

// TestVFIOAPIValues: driver.VFIOAPI is converted to vfio.API by value, so
// their constants must stay equal.
func TestVFIOAPIValues(t *testing.T) {
	for d, v := range map[driver.VFIOAPI]vfio.API{driver.VFIOAuto: vfio.APIAuto, driver.VFIOGroup: vfio.APIGroup, driver.VFIOCdev: vfio.APICdev} {
		if vfio.API(d) != v || d.String() != v.String() {
			t.Errorf("driver.%v (%d) is not vfio.%v (%d)", d, d, v, v)
		}
	}
}
