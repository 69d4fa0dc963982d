package e1000_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// TestReinitRestoresIRQMask: a real reset under the driver clears IMS (the
// soak's secondary bus reset did, and the driver then never got another
// interrupt); Reinit must unmask the causes the driver had enabled, not
// what IMS reads after the reset.
func TestReinitRestoresIRQMask(t *testing.T) {
	dev, fake, _, _, _ := newTeardownDevice(t, e1000.Model82540EM, false)
	fake.SetLogging(false)
	dev.SetIRQ(0, driver.CauseTX, false) // the driver's own choice survives too
	want := fake.Reg(intel.IMS)
	if want == 0 {
		t.Fatal("no cause enabled before the reset")
	}
	fake.Write32(uint32(intel.CTRL), intel.CTRL_RST) // every register to its power-up value
	if got := fake.Reg(intel.IMS); got != 0 {
		t.Fatalf("IMS %#x after the fake's reset, want 0", got)
	}
	if err := dev.Reinit(); err != nil {
		t.Fatal(err)
	}
	if got := fake.Reg(intel.IMS); got != want {
		t.Fatalf("IMS %#x after Reinit, want %#x (as before the reset)", got, want)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
}
