package e1000test_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
	"github.com/uiodrv/uiodrv/driver/intel"
)

func TestDeviceRegisters(t *testing.T) {
	d := e1000test.New(e1000.Model82540EM, drivertest.NewMemAllocator())
	if d.Read32(uint32(intel.STATUS))&intel.STATUS_LU == 0 {
		t.Error("link not up at power-up")
	}
	if d.Read32(uint32(intel.RAH(0)))&e1000.RAH_AV == 0 || d.Read32(uint32(intel.RAL(0))) != 0x12005452 {
		t.Error("RAL/RAH not loaded with DefaultMAC")
	}
	// ICS sets ICR; ICR clears on read; a write clears bits.
	d.Write32(uint32(intel.ICS), uint32(e1000.ICR_LSC|e1000.ICR_RXT0))
	if got := d.Read32(uint32(intel.ICR)); got != uint32(e1000.ICR_LSC|e1000.ICR_RXT0) {
		t.Errorf("ICR = %#x", got)
	}
	if got := d.Read32(uint32(intel.ICR)); got != 0 {
		t.Errorf("ICR not cleared on read: %#x", got)
	}
	// Statistics clear on read; reading a 64-bit high half clears both.
	d.AddStat(intel.GPRC, 3)
	if d.Read32(uint32(intel.GPRC)) != 3 || d.Read32(uint32(intel.GPRC)) != 0 {
		t.Error("GPRC not clear-on-read")
	}
	d.SetReg(intel.GORCL, 5)
	d.SetReg(intel.GORCH, 1)
	if d.Read32(uint32(intel.GORCH)) != 1 || d.Reg(intel.GORCL) != 0 {
		t.Error("GORCH read did not clear GORCL")
	}
	// CTRL.RST self-clears and resets registers, keeping statistics.
	d.AddStat(intel.MPC, 1)
	d.Write32(uint32(intel.RCTL), intel.RCTL_EN)
	d.Write32(uint32(intel.CTRL), intel.CTRL_RST)
	if d.Read32(uint32(intel.CTRL))&intel.CTRL_RST != 0 || d.Reg(intel.RCTL) != 0 || d.Reg(intel.MPC) != 1 {
		t.Errorf("after reset: CTRL %#x RCTL %#x MPC %d", d.Reg(intel.CTRL), d.Reg(intel.RCTL), d.Reg(intel.MPC))
	}
	if d.Resets() != 2 {
		t.Errorf("resets = %d", d.Resets())
	}
}

func TestDeviceMSIXICR(t *testing.T) {
	d := e1000test.New(e1000.Model82574L, drivertest.NewMemAllocator())
	d.SetMSIX(true)
	d.Write32(uint32(intel.ICS), uint32(e1000.ICR_LSC))
	first := d.Read32(uint32(intel.ICR))
	second := d.Read32(uint32(intel.ICR)) // a second read must still see it
	if first != uint32(e1000.ICR_LSC) || second != uint32(e1000.ICR_LSC) {
		t.Fatal("ICR cleared on read in MSI-X mode")
	}
	d.Write32(uint32(intel.ICR), uint32(e1000.ICR_LSC))
	if d.Reg(intel.ICR) != 0 {
		t.Fatal("write 1 did not clear ICR")
	}
}

func TestDeviceEERD(t *testing.T) {
	for _, tc := range []struct {
		m     e1000.Model
		shift uint32
		done  uint32
	}{
		{e1000.Model82540EM, e1000.EERD_ADDR_SHIFT, e1000.EERD_DONE},
		{e1000.Model82574L, e1000.EERD_ADDR_SHIFT_82574, e1000.EERD_DONE_82574},
	} {
		d := e1000test.New(tc.m, drivertest.NewMemAllocator())
		d.Write32(uint32(intel.EERD), 1<<tc.shift|e1000.EERD_START)
		v := d.Read32(uint32(intel.EERD))
		if v&tc.done == 0 || v>>16 != 0x1200 {
			t.Errorf("%v: EERD word 1 = %#08x, want DONE and data 0x1200 (bytes 00 12)", tc.m, v)
		}
	}
}

func TestAllocator(t *testing.T) {
	a := drivertest.NewMemAllocator()
	r1, _ := a.Alloc(100)
	r2, _ := a.Alloc(8192)
	if r1.Addr() != drivertest.BaseAddr || r2.Addr()%4096 != 0 || r2.Addr() <= r1.Addr()+100 {
		t.Fatalf("addresses %#x %#x", r1.Addr(), r2.Addr())
	}
	r2.Bytes()[10] = 7
	if m := a.Mem(r2.Addr()+10, 1); m == nil || m[0] != 7 {
		t.Fatal("Mem does not translate device addresses")
	}
	if a.Mem(r1.Addr()+99, 2) != nil {
		t.Fatal("Mem across the end of a region")
	}
	r1.Close()
	if a.Open() != 1 || a.Mem(r1.Addr(), 1) != nil {
		t.Fatal("released region still reachable")
	}
	r2.Close()
	if a.Open() != 0 || a.Allocated() != 2 {
		t.Fatal("Open/Allocated wrong")
	}
	a.FailAt = 3
	if _, err := a.Alloc(10); err == nil {
		t.Fatal("FailAt did not fail")
	}
}
