package e1000_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/intel"
)

func TestReadCause(t *testing.T) {
	for _, m := range []e1000.Model{e1000.Model82540EM, e1000.Model82574L} {
		t.Run(m.String(), func(t *testing.T) {
			n, dev, _ := newNIC(t, m, e1000.Options{})
			n.EnableIRQ(n.Causes().All())
			if got := n.IRQMask(); got != e1000.ICR_RXT0|e1000.ICR_RXO|e1000.ICR_RXDMT0|e1000.ICR_TXDW|e1000.ICR_LSC {
				t.Fatalf("IMS = %v", got)
			}
			n.TriggerIRQ(e1000.ICR_LSC | e1000.ICR_TXDW)
			if dev.Pending() != e1000.ICR_LSC|e1000.ICR_TXDW {
				t.Fatalf("pending = %v after ICS", dev.Pending())
			}
			if got := n.ReadCause(); got != e1000.ICR_LSC|e1000.ICR_TXDW {
				t.Fatalf("ReadCause = %v", got)
			}
			if got := n.ReadCause(); got != 0 {
				t.Fatalf("ICR not acknowledged: second ReadCause = %v", got)
			}
			n.DisableIRQ(e1000.ICR_LSC)
			if n.IRQMask()&e1000.ICR_LSC != 0 {
				t.Fatal("IMC did not mask LSC")
			}
			dev.Receive(frame(1))
			if dev.Pending() != e1000.ICR_RXT0 {
				t.Fatalf("pending after a frame = %v, want RXT0", dev.Pending())
			}
		})
	}
}

func TestMSIX(t *testing.T) {
	n, dev, _ := newNIC(t, e1000.Model82574L, e1000.Options{MSIX: true, ITR: 500})
	// RXQ0 -> vector 0, TXQ0 -> 1, other -> 2, each valid; bit 31 for TX
	// interrupts on every write-back (82574 10.2.4.9).
	if got := dev.Reg(e1000.IVAR); got != 0x800A0908 {
		t.Errorf("IVAR = %#08x, want 0x800a0908", got)
	}
	if got := dev.Reg(e1000.EIAC); got != uint32(e1000.ICR_RXQ0|e1000.ICR_TXQ0|e1000.ICR_OTHER) {
		t.Errorf("EIAC = %#08x", got)
	}
	ext := dev.Reg(intel.CTRL_EXT)
	if ext&(e1000.CTRL_EXT_EIAME|e1000.CTRL_EXT_PBA_CLR) == 0 || ext&e1000.CTRL_EXT_IAME != 0 {
		t.Errorf("CTRL_EXT = %#08x, want EIAME|PBA_CLR, no IAME", ext)
	}
	for v := 0; v < 3; v++ {
		if got := dev.Reg(e1000.EITR(v)); got != 500 {
			t.Errorf("EITR(%d) = %d, want 500", v, got)
		}
	}
	c := n.Causes()
	if c.RX != e1000.ICR_RXQ0 || c.TX != e1000.ICR_TXQ0 || c.Other != e1000.ICR_OTHER|e1000.ICR_LSC {
		t.Errorf("Causes = %+v", c)
	}
	n.EnableIRQ(c.All())
	dev.Receive(frame(0))
	if dev.Pending() != e1000.ICR_RXQ0 {
		t.Errorf("pending after a frame = %v, want RXQ0", dev.Pending())
	}
	// In MSI-X mode ICR is write-1-to-clear: ReadCause must write it back.
	dev.SetLink(false)
	writes := dev.WriteCount(intel.ICR)
	if got := n.ReadCause(); got != e1000.ICR_RXQ0|e1000.ICR_LSC|e1000.ICR_OTHER {
		t.Errorf("ReadCause = %v", got)
	}
	if dev.WriteCount(intel.ICR) != writes+1 || dev.Reg(intel.ICR) != 0 {
		t.Errorf("ICR = %#x after ReadCause, %d write-backs", dev.Reg(intel.ICR), dev.WriteCount(intel.ICR)-writes)
	}
	if up, _ := n.LinkUp(); up {
		t.Error("link up after SetLink(false)")
	}
}

func TestLinkUp(t *testing.T) {
	n, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{})
	for _, tc := range []struct {
		status uint32
		up     bool
		speed  int
	}{
		{intel.STATUS_LU | intel.STATUS_FD | intel.STATUS_SPEED_1000, true, 1000},
		{intel.STATUS_LU | 3<<6, true, 1000},
		{intel.STATUS_LU | intel.STATUS_SPEED_100, true, 100},
		{intel.STATUS_LU | e1000.STATUS_SPEED_10, true, 10},
		{intel.STATUS_SPEED_1000, false, 0},
	} {
		dev.SetReg(intel.STATUS, tc.status)
		if up, speed := n.LinkUp(); up != tc.up || speed != tc.speed {
			t.Errorf("STATUS %#x: LinkUp = %v, %d, want %v, %d", tc.status, up, speed, tc.up, tc.speed)
		}
	}
}

func TestReadStats(t *testing.T) {
	n, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{})
	dev.AddStat(intel.MPC, 7)
	s := n.HWStats()
	if s.MPC != 7 {
		t.Fatalf("MPC = %d, want 7", s.MPC)
	}
	if dev.Reg(intel.MPC) != 0 {
		t.Fatal("MPC not cleared by the read")
	}
	for i := 0; i < 3; i++ {
		dev.Receive(frame(uint32(i)))
	}
	dev.AddStat(intel.CRCERRS, 2)
	dev.SetReg(intel.GOTCL, 0xFFFFFFFF)
	dev.SetReg(intel.GOTCH, 1)
	n.HWStats()
	s = n.HWStats() // nothing new: a clear-on-read counter adds 0
	want := e1000.HWStats{MPC: 7, CRCERRS: 2, GPRC: 3, TPR: 3, GORC: 180, TOR: 180, GOTC: 0x1FFFFFFFF}
	if s != want {
		t.Fatalf("stats = %+v\nwant %+v", s, want)
	}
}

func TestNewClearsStats(t *testing.T) {
	alloc := newAllocOnly()
	dev := newDevice(e1000.Model82540EM, alloc)
	dev.AddStat(intel.GPRC, 99)
	n, err := e1000.New(dev, alloc, mustPool(alloc), e1000.Model82540EM, e1000.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if s := n.HWStats(); s.GPRC != 0 {
		t.Fatalf("GPRC = %d after New, want 0 (SDM 14.7)", s.GPRC)
	}
}
