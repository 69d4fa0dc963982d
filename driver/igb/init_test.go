package igb_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/igb/igbtest"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// index returns the position of the first logged write to reg whose value
// has all of bits, or -1.
func index(log []igbtest.Write, reg igb.Reg, bits uint32) int {
	for i, w := range log {
		if w.Reg == reg && w.Val&bits == bits {
			return i
		}
	}
	return -1
}

// The init sequence follows 82576 4.5: reset before anything else; the PHY's
// auto-negotiation restarted; each queue enabled before its tail is written
// and before RCTL.EN; MSI-X mode before the vectors are unmasked.
func TestInitOrder(t *testing.T) {
	f := newFakeNIC(t, igb.Options{Queues: 2})
	log := f.dev.Log()
	rst := index(log, intel.CTRL, intel.CTRL_RST)
	if rst < 0 || f.dev.Resets() != 2 {
		t.Fatalf("CTRL.RST at %d, %d resets; want one reset after power-up", rst, f.dev.Resets())
	}
	if i := index(log, igb.MDIC, igb.MII_CR_RESTART_AUTONEG|igb.MDIC_OP_WRITE); i < rst {
		t.Errorf("PHY auto-negotiation restart at %d, reset at %d", i, rst)
	}
	rctl := index(log, intel.RCTL, intel.RCTL_EN)
	for q := 0; q < 2; q++ {
		en := index(log, igb.RXDCTL(q), igb.RXDCTL_QUEUE_ENABLE)
		base := index(log, igb.RDBAL(q), 0)
		tail := -1
		for i, w := range log {
			if w.Reg == igb.RDT(q) && w.Val != 0 {
				tail = i
				break
			}
		}
		if !(rst < base && base < en && en < rctl && rctl < tail) {
			t.Errorf("queue %d: reset %d, RDBAL %d, RXDCTL.ENABLE %d, RCTL.EN %d, first tail %d: want that order", q, rst, base, en, rctl, tail)
		}
		if got := f.dev.Reg(igb.SRRCTL(q)); got != 2|igb.SRRCTL_DESCTYPE_ADV_ONEBUF|igb.SRRCTL_DROP_EN {
			t.Errorf("SRRCTL(%d) = %#x: want 2 KiB, one-buffer advanced, drop when empty", q, got)
		}
		if got := f.dev.Reg(igb.RDT(q)); got != 63 {
			t.Errorf("RDT(%d) = %d: want the ring filled but one (63 of 64)", q, got)
		}
		if f.dev.Reg(igb.TXDCTL(q))&igb.TXDCTL_QUEUE_ENABLE == 0 {
			t.Errorf("TX queue %d not enabled", q)
		}
	}
	gpie := index(log, igb.GPIE, igb.GPIE_MSIX_MODE)
	eims := index(log, igb.EIMS, 0b111)
	if !(gpie >= 0 && gpie < eims) {
		t.Errorf("GPIE.MSIX_MODE at %d, EIMS of all vectors at %d", gpie, eims)
	}
	if up, mbps := f.nic.Link(); !up || mbps != 1000 {
		t.Errorf("link %v at %d Mb/s, want up at 1000", up, mbps)
	}
}

// IVAR routes queue q's RX cause to vector q in the 82576 layout, its TX
// cause nowhere (TX completions raise no interrupt), and other causes to the
// last vector.
func TestIVAR(t *testing.T) {
	for _, tc := range []struct {
		queues int
		ivar   []uint32 // IVAR0[0..]
	}{
		{1, []uint32{0x80, 0}},
		{2, []uint32{0x80, 0x81, 0}},
		{8, []uint32{0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87}},
	} {
		f := newFakeNIC(t, igb.Options{Queues: tc.queues})
		for i, want := range tc.ivar {
			if got := f.dev.Reg(igb.IVAR(i)); got != want {
				t.Errorf("%d queues: IVAR0[%d] = %#x, want %#x", tc.queues, i, got, want)
			}
		}
		if got, want := f.dev.Reg(igb.IVAR_MISC), (uint32(tc.queues)|igb.IVAR_VALID)<<8; got != want {
			t.Errorf("%d queues: IVAR_MISC = %#x, want %#x", tc.queues, got, want)
		}
		all := uint32(1)<<(tc.queues+1) - 1
		if got := f.dev.Reg(igb.EIMS); got != all {
			t.Errorf("%d queues: EIMS = %#x, want %#x", tc.queues, got, all)
		}
		if got := f.dev.Reg(igb.EIAC); got != all {
			t.Errorf("%d queues: EIAC = %#x, want %#x", tc.queues, got, all)
		}
	}
}

// With RSS the key, the table and MRQC are the driver.RSS handed in; with
// one queue MRQC stays 0.
func TestRSSRegisters(t *testing.T) {
	r, err := driver.NewRSS(3)
	if err != nil {
		t.Fatal(err)
	}
	r.RETA[5] = 0 // not the round-robin default
	f := newFakeNIC(t, igb.Options{Queues: 3, RSS: r})
	for i := 0; i < 10; i++ {
		if got, want := f.dev.Reg(igb.RSSRK(i)), binary.LittleEndian.Uint32(r.Key[4*i:]); got != want {
			t.Errorf("RSSRK[%d] = %#x, want %#x", i, got, want)
		}
	}
	for i := 0; i < 32; i++ {
		if got, want := f.dev.Reg(igb.RETA(i)), binary.LittleEndian.Uint32(r.RETA[4*i:]); got != want {
			t.Errorf("RETA[%d] = %#x, want %#x", i, got, want)
		}
	}
	if got := f.dev.Reg(igb.RETA(1)); got&0xFF00 != 0 {
		t.Errorf("RETA[1] = %#x: entry 5 should be queue 0", got)
	}
	want := igb.MRQC_ENABLE_RSS_MQ | igb.MRQC_RSS_FIELD_IPV4 | igb.MRQC_RSS_FIELD_IPV4_TCP | igb.MRQC_RSS_FIELD_IPV4_UDP
	if got := f.dev.Reg(igb.MRQC); got != want {
		t.Errorf("MRQC = %#x, want %#x", got, want)
	}
	if f.dev.Reg(igb.RXCSUM)&igb.RXCSUM_PCSD == 0 {
		t.Error("RXCSUM.PCSD clear: the hash has no place in the descriptor")
	}
	one := newFakeNIC(t, igb.Options{Queues: 1})
	if got := one.dev.Reg(igb.MRQC); got != 0 {
		t.Errorf("one queue: MRQC = %#x, want 0", got)
	}
}

// Bad options are refused before the device is touched.
func TestBadOptions(t *testing.T) {
	for name, o := range map[string]igb.Options{
		"too many queues": {Queues: 17},
		"ring not x8":     {RxRingSize: 60},
		"ring too big":    {TxRingSize: 8192},
		"rss one queue":   {Queues: 1, RSS: &driver.RSS{}},
		"reta past queue": {Queues: 2, RSS: &driver.RSS{RETA: [driver.RETASize]uint8{7}}},
		"vectors":         {Queues: 2, Vectors: make([]driver.Vector, 2)},
		"itr":             {ITR: 1 << 14},
	} {
		alloc := drivertest.NewMemAllocator()
		dev, err := igbtest.New(alloc, 0)
		if err != nil {
			t.Fatal(err)
		}
		pool, _ := driver.NewBufPool(alloc, 1024)
		_, err = igb.New(dev, alloc, pool, igb.Model82576, o)
		if !errors.Is(err, igb.ErrBadOptions) {
			t.Errorf("%s: err %v, want ErrBadOptions", name, err)
		}
		if len(dev.Log()) != 0 {
			t.Errorf("%s: %d register writes before the options were refused", name, len(dev.Log()))
		}
		pool.Close()
		if n := alloc.Open(); n != 0 {
			t.Errorf("%s: %d DMA regions left", name, n)
		}
	}
	if _, err := igb.New(nil, nil, nil, igb.ModelI210, igb.Options{Queues: 5}); !errors.Is(err, igb.ErrBadOptions) {
		t.Errorf("5 queues on the I210: %v", err)
	}
}

func TestLookupModel(t *testing.T) {
	for id, want := range map[uint16]string{0x10C9: "82576", 0x1521: "I350", 0x1533: "I210", 0x1539: "I211"} {
		m, err := igb.LookupModel(0x8086, id)
		if err != nil || m.Name != want {
			t.Errorf("%04x: %v %v, want %s", id, m, err, want)
		}
	}
	if _, err := igb.LookupModel(0x8086, 0x100E); !errors.Is(err, igb.ErrUnsupportedDevice) {
		t.Errorf("e1000 ID: %v", err)
	}
}

// The NIC's counters arrive under generic names, per-queue drops as extras.
func TestStats(t *testing.T) {
	f := newFakeNIC(t, igb.Options{Queues: 2})
	info := f.nic.Info()
	if got := info.Extras[len(info.Extras)-2:]; got[0] != "rx_queue_0_drops" || got[1] != "rx_queue_1_drops" {
		t.Fatalf("extras %v", info.Extras)
	}
	var s driver.NICStats
	f.nic.ReadStats(&s)
	// Send until a queue runs out of descriptors: its drops are counted.
	frame := make([]byte, 100)
	sent := 0
	for f.dev.Receive(frame) {
		sent++
	}
	f.nic.ReadStats(&s)
	if s.RxPackets != uint64(sent) || s.RxBytes != uint64(100*sent) || s.RxNoBuffer != 1 {
		t.Errorf("rx_packets %d rx_bytes %d rx_no_buffer %d after %d frames and one without a buffer", s.RxPackets, s.RxBytes, s.RxNoBuffer, sent)
	}
	if d := s.Extra[len(info.Extras)-2]; d != 1 {
		t.Errorf("rx_queue_0_drops = %d, want 1 (non-IP frames land on queue 0)", d)
	}
	if !s.Link || s.SpeedMbps != 1000 {
		t.Errorf("link %v %d", s.Link, s.SpeedMbps)
	}
}
