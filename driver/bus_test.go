package driver

import (
	"testing"

	"github.com/uiodrv/uiodrv/pci"
)

// TestOpenBusErrorsDoNotPanic: every failure path returns an error and a nil
// Bus (a regression test: the deferred cleanup once closed a nil Bus).
func TestOpenBusErrorsDoNotPanic(t *testing.T) {
	for _, tc := range []struct {
		bdf string
		b   Backend
	}{{"not-a-bdf", BackendVFIO}, {"0000:00:1f.7", BackendVFIO}, {"0000:00:1f.7", BackendUIO}, {"0000:00:03.0", Backend(9)}} {
		bus, err := OpenBus(tc.bdf, tc.b, BusOptions{})
		if err == nil || bus != nil {
			t.Errorf("OpenBus(%q, %v) = %v, %v; want nil and an error", tc.bdf, tc.b, bus, err)
		}
	}
	if _, err := OpenBus("zz", BackendVFIO, BusOptions{}); err == nil {
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
	for in, want := range map[string]Backend{"vfio": BackendVFIO, "VFIO": BackendVFIO, "uio": BackendUIO, "uio_pci_generic": BackendUIO} {
		if got, err := ParseBackend(in); err != nil || got != want {
			t.Errorf("ParseBackend(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseBackend("dpdk"); err == nil {
		t.Error("ParseBackend(dpdk) succeeded")
	}
}
