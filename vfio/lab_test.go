package vfio

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/mmio"
	"github.com/uiodrv/uiodrv/pci"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// The lab layout, shared by the host side (which boots it) and the guest
// side (which checks what it sees): the same test binary runs in both.
var labVM = qemu.Config{
	IOMMU: true,
	NICs: []qemu.NIC{
		{Model: qemu.E1000, Addr: "03.0", MAC: "52:54:00:12:34:56"},
		{Model: qemu.E1000E, Addr: "04.0", MAC: "52:54:00:12:34:57"},
		{Model: qemu.E1000, Addr: "05.0", MAC: "52:54:00:12:34:58"}, // left unbound
	},
	Bind: []qemu.Binding{
		{BDF: "0000:00:03.0", Driver: "vfio-pci"},
		{BDF: "0000:00:04.0", Driver: "vfio-pci"},
	},
	Hugepages: 16,
}

// TestLabVFIO runs TestGuestVFIO* in one boot: e1000 INTx and e1000e MSI-X
// round trips, DMA mapping, reopen, and the unbound-device error.
func TestLabVFIO(t *testing.T) {
	labtest.Run(t, labtest.Options{Package: "./vfio", Run: "^TestGuestVFIO", VM: labVM})
}

// TestLabNoVFIO boots without binding anything to vfio-pci, so the guest
// init loads no VFIO module.
func TestLabNoVFIO(t *testing.T) {
	labtest.Run(t, labtest.Options{
		Package: "./vfio",
		Run:     "^TestGuestNoVFIO",
		VM:      qemu.Config{IOMMU: true, NICs: []qemu.NIC{{Model: qemu.E1000}}},
	})
}

// e1000 registers used by the lab tests (8254x SDM section 13, 82574 datasheet section 10).
const (
	regSTATUS = 0x00008 // Device Status - RO
	regICR    = 0x000C0 // Interrupt Cause Read - RC (W1C in 82574 MSI-X mode)
	regICS    = 0x000C8 // Interrupt Cause Set - WO
	regIMS    = 0x000D0 // Interrupt Mask Set/Read - RW
	regIMC    = 0x000D8 // Interrupt Mask Clear - WO
	regIVAR   = 0x000E4 // Interrupt Vector Allocation Registers (82574) - RW
	regRAL0   = 0x05400 // Receive Address Low 0 - RW
	regRAH0   = 0x05404 // Receive Address High 0 - RW

	icrLSC   = 0x4        // Link Status Change
	icrOther = 1 << 24    // Other causes (82574 MSI-X mode: LSC is delivered as "other")
	rahAV    = 1 << 31    // Address Valid
	ivar     = 0x800A0908 // RxQ0 -> vector 0, TxQ0 -> vector 1, other causes -> vector 2, all valid
)

func macOf(b *mmio.BAR) string {
	lo, hi := b.Read32(regRAL0), b.Read32(regRAH0)
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", byte(lo), byte(lo>>8), byte(lo>>16), byte(lo>>24), byte(hi), byte(hi>>8))
}

// waitIRQ waits up to d for q; it returns the count or the error.
func waitIRQ(q *IRQ, d time.Duration) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return q.Wait(ctx)
}

// openNIC opens bdf, checks BAR0's STATUS and MAC, and enables bus mastering.
func openNIC(t *testing.T, bdf, mac string) (*Device, *mmio.BAR) {
	t.Helper()
	start := time.Now()
	d, err := Open(bdf, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", bdf, err)
	}
	t.Cleanup(func() { d.Close() }) // idempotent: tests also Close explicitly
	t.Logf("%s: opened in %v, info %+v", bdf, time.Since(start), d.Info())
	ri, err := d.RegionInfo(RegionBAR0)
	if err != nil || ri.Size < 0x20000 || ri.Flags&RegionFlagMmap == 0 {
		t.Fatalf("BAR0 region %+v, %v", ri, err)
	}
	bar, err := d.BAR(0)
	if err != nil {
		t.Fatal(err)
	}
	st := bar.Read32(regSTATUS)
	t.Logf("%s: STATUS %#08x, MAC %s", bdf, st, macOf(bar))
	if st == 0 || st == 0xffffffff {
		t.Errorf("%s: STATUS = %#x: BAR0 does not reach the device", bdf, st)
	}
	if got := macOf(bar); got != mac {
		t.Errorf("%s: MAC = %s, want %s", bdf, got, mac)
	}
	if bar.Read32(regRAH0)&rahAV == 0 {
		t.Errorf("%s: RAH0 address-valid bit clear", bdf)
	}
	if err := d.EnableBusMaster(); err != nil {
		t.Fatal(err)
	}
	cmd, err := d.Config().Command()
	if err != nil || cmd&(pci.CmdMemory|pci.CmdMaster) != pci.CmdMemory|pci.CmdMaster {
		t.Errorf("%s: command register %#x, %v after EnableBusMaster", bdf, cmd, err)
	}
	if v, err := d.Config().Read16(pci.CfgVendorID); err != nil || v != pci.VendorIntel {
		t.Errorf("%s: config vendor %#x, %v", bdf, v, err)
	}
	return d, bar
}

func checkDMA(t *testing.T, d *Device, huge bool) {
	t.Helper()
	var m Mapper
	if d.API() == APICdev {
		checkIOAS(t, d)
		m = d.IOMMUFD()
	} else {
		info, err := d.Container().IOMMUInfo()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("IOMMU page sizes %#x, IOVA ranges %#x, DMA mappings available %d", info.PageSizes, info.Ranges, info.DMAAvail)
		if info.PageSizes&4096 == 0 {
			t.Errorf("IOMMU page sizes %#x lack 4K", info.PageSizes)
		}
		m = d.Container()
	}
	a, err := d.Allocator(AllocatorOptions{Hugepages: huge})
	if err != nil {
		t.Fatal(err)
	}
	var regions []interface{ Close() error }
	prevEnd := uint64(0)
	for _, size := range []int{64, 4096, 3 * 4096, 1 << 20} {
		r, err := a.Alloc(size)
		if err != nil {
			t.Fatalf("Alloc(%d, huge=%v): %v", size, huge, err)
		}
		regions = append(regions, r)
		b := r.Bytes()
		if len(b) != size || b[0] != 0 || b[size-1] != 0 {
			t.Errorf("region of %d bytes: len %d, not zeroed", size, len(b))
		}
		b[0], b[size-1] = 0xa5, 0x5a
		page := uint64(PageSize)
		if huge {
			page = HugePageSize
		}
		if r.Addr()%page != 0 || r.Addr() < prevEnd {
			t.Errorf("IOVA %#x not %#x-aligned or overlapping the previous region (end %#x)", r.Addr(), page, prevEnd)
		}
		prevEnd = r.Addr() + uint64(size)
	}
	if a.Live() != 4 {
		t.Errorf("Live = %d", a.Live())
	}
	for _, r := range regions[:2] {
		if err := r.Close(); err != nil {
			t.Errorf("region Close: %v", err)
		}
	}
	// Unmapping an IOVA that is no longer mapped fails: Close really
	// unmapped it. iommufd says so (ENOENT); type1 unmaps nothing silently.
	if err := m.UnmapDMA(DefaultBaseIOVA, 4096); err == nil && !huge {
		if d.API() == APICdev {
			t.Errorf("second unmap of %#x from the IOAS reported no error", uint64(DefaultBaseIOVA))
		} else {
			t.Logf("second unmap of %#x reported no error (kernel unmaps nothing silently)", uint64(DefaultBaseIOVA))
		}
	}
	if a.Live() != 2 {
		t.Errorf("Live after two Close = %d", a.Live())
	}
}

// TestGuestVFIOE1000 drives the e1000 at 0000:00:03.0 with INTx.
func TestGuestVFIOE1000(t *testing.T) {
	labtest.InGuest(t)
	const bdf = "0000:00:03.0"
	for round := 0; round < 2; round++ { // the second round proves Close released everything
		t.Logf("round %d", round)
		d, bar := openNIC(t, bdf, labVM.NICs[0].MAC)
		checkDMA(t, d, false)
		checkDMA(t, d, true)

		info, err := d.IRQInfo(IRQIndexINTx)
		if err != nil || info.Count != 1 || info.Flags&IRQInfoAutomasked == 0 {
			t.Errorf("INTx info %+v, %v", info, err)
		}
		if mi, _ := d.IRQInfo(IRQIndexMSIX); mi.Count != 0 {
			t.Errorf("e1000 reports %d MSI-X vectors", mi.Count)
		}

		bar.Write32(regIMC, 0xffffffff)
		bar.Read32(regICR) // drop causes pending from reset / link-up
		q, err := d.EnableINTx()
		if err != nil {
			t.Fatal(err)
		}
		if q.Fd() < 0 {
			t.Errorf("Fd = %d", q.Fd())
		}
		if n, err := waitIRQ(q, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait with every cause masked = %d, %v; want a timeout", n, err)
		}
		bar.Write32(regIMS, icrLSC)
		for i := 0; i < 3; i++ {
			start := time.Now()
			bar.Write32(regICS, icrLSC)
			n, err := waitIRQ(q, 5*time.Second)
			if err != nil {
				t.Fatalf("interrupt %d: %v", i, err)
			}
			icr := bar.Read32(regICR) // read-to-clear: acknowledges, INTx deasserts
			t.Logf("interrupt %d: count %d after %v, ICR %#x", i, n, time.Since(start), icr)
			if icr&icrLSC == 0 {
				t.Errorf("interrupt %d: ICR %#x lacks LSC", i, icr)
			}
			if err := q.Unmask(); err != nil {
				t.Fatal(err)
			}
		}

		// vfio-pci masks INTx when it fires: without Unmask the next one
		// is held back, and Unmask delivers it.
		bar.Write32(regICS, icrLSC)
		if _, err := waitIRQ(q, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		bar.Read32(regICR)
		bar.Write32(regICS, icrLSC)
		if n, err := waitIRQ(q, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("interrupt while masked = %d, %v; want none", n, err)
		}
		if err := q.Unmask(); err != nil {
			t.Fatal(err)
		}
		if _, err := waitIRQ(q, 5*time.Second); err != nil {
			t.Errorf("interrupt pending across Unmask not delivered: %v", err)
		}
		bar.Read32(regICR)
		bar.Write32(regIMC, 0xffffffff)

		// Closing the IRQ wakes a waiter promptly.
		errc := make(chan error, 1)
		go func() { _, err := q.Wait(context.Background()); errc <- err }()
		time.Sleep(50 * time.Millisecond)
		if err := q.Close(); err != nil {
			t.Errorf("IRQ Close: %v", err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Wait after Close = %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("IRQ Close did not wake Wait")
		}

		if d.Info().Flags&DeviceFlagsReset != 0 {
			if err := d.Reset(); err != nil {
				t.Errorf("Reset: %v", err)
			} else if st := bar.Read32(regSTATUS); st == 0xffffffff {
				t.Errorf("STATUS after reset = %#x", st)
			}
		} else {
			t.Logf("%s offers no reset", bdf)
		}
		// The group is busy while the device is open (through the group;
		// a device opened through its cdev leaves the group file alone).
		if d.API() == APIGroup {
			if g, err := OpenGroup(groupOf(t, bdf)); !errors.Is(err, ErrGroupBusy) {
				t.Errorf("second open of the group = %v, want ErrGroupBusy", err)
				if g != nil {
					g.Close()
				}
			}
		}
		if err := d.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
}

func groupOf(t *testing.T, bdf string) int {
	g, err := pci.Sysfs{}.IOMMUGroup(pci.MustParseAddr(bdf))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGuestVFIOE1000EMSIX drives the e1000e at 0000:00:04.0 with MSI-X.
func TestGuestVFIOE1000EMSIX(t *testing.T) {
	labtest.InGuest(t)
	const bdf = "0000:00:04.0"
	for round := 0; round < 2; round++ {
		t.Logf("round %d", round)
		d, bar := openNIC(t, bdf, labVM.NICs[1].MAC)
		checkDMA(t, d, false)
		info, err := d.IRQInfo(IRQIndexMSIX)
		if err != nil || info.Count < 3 {
			t.Fatalf("MSI-X info %+v, %v", info, err)
		}
		t.Logf("MSI-X: %d vectors, flags %#x", info.Count, info.Flags)

		bar.Write32(regIMC, 0xffffffff)
		bar.Write32(regICR, 0xffffffff)
		bar.Write32(regIVAR, ivar) // QEMU drops MSI-X interrupts of unrouted causes
		irqs, err := d.EnableMSIX(3)
		if err != nil {
			t.Fatal(err)
		}
		other := irqs[2] // IVAR routes "other" causes (LSC) to vector 2
		bar.Write32(regIMS, icrLSC|icrOther)
		for i := 0; i < 3; i++ {
			start := time.Now()
			bar.Write32(regICS, icrLSC)
			n, err := waitIRQ(other, 5*time.Second)
			if err != nil {
				t.Fatalf("interrupt %d on vector 2: %v", i, err)
			}
			icr := bar.Read32(regICR)
			t.Logf("interrupt %d: count %d after %v, ICR %#x", i, n, time.Since(start), icr)
			bar.Write32(regICR, 0xffffffff) // in MSI-X mode ICR clears by writing 1s
			if err := other.Unmask(); err != nil {
				t.Errorf("Unmask (no-op for MSI-X): %v", err)
			}
		}
		// The other vectors saw nothing.
		for _, v := range irqs[:2] {
			if n, err := waitIRQ(v, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: %d, %v; want no interrupt", v, n, err)
			}
		}
		// Detaching one vector leaves the others working.
		if err := irqs[0].Close(); err != nil {
			t.Errorf("close vector 0: %v", err)
		}
		bar.Write32(regICS, icrLSC)
		if _, err := waitIRQ(other, 5*time.Second); err != nil {
			t.Errorf("vector 2 after closing vector 0: %v", err)
		}
		bar.Write32(regIMC, 0xffffffff)
		bar.Write32(regICR, 0xffffffff)
		// QEMU 7.2's e1000e arms a per-vector throttling timer (EITR) at
		// each MSI-X message and asserts that MSI-X is still enabled when it
		// fires: disabling MSI-X before it fires aborts QEMU. Let it expire.
		time.Sleep(20 * time.Millisecond)
		if err := d.DisableIRQ(IRQIndexMSIX); err != nil {
			t.Errorf("DisableIRQ(MSI-X): %v", err)
		}
		if err := d.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// TestGuestVFIOErrors checks the documented errors in the VFIO boot.
