package vfio

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabCdevVFIO boots labVM on the kernel built from Debian's source
// (iommufd and the VFIO cdev built in) and runs the device-level guest
// tests there, where Open's APIAuto takes the cdev: e1000 INTx, e1000e
// MSI-X and MSI, DMA through the IOAS, reset, reopen; and TestGuestVFIOAPI,
// which opens the same device through the group and through the cdev. make
// labtest-cdev runs it; make test's TestLabVFIO runs the same guest tests on
// Debian's kernel, where APIAuto takes the group.
func TestLabCdevVFIO(t *testing.T) {
	labtest.Require(t)
	if _, err := qemu.StageSourceKernel(); err != nil { // outside the lab lock: a first build takes minutes
		t.Fatalf("source kernel: %v", err)
	}
	vm := labVM
	vm.Kernel = qemu.KernelSource
	labtest.Run(t, labtest.Options{Package: "./vfio", Run: "^TestGuestVFIO(E1000|API)", VM: vm})
}

// checkIOAS checks the IOAS of a device opened through its cdev: its IOVA
// ranges are usable and leave out the MSI window, which the IOMMU reserves
// for interrupt messages (0xfee00000-0xfeefffff on x86).
func checkIOAS(t *testing.T, d *Device) {
	t.Helper()
	ranges, err := d.IOMMUFD().IOVARanges()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("IOAS %d: IOVA ranges %#x", d.IOMMUFD().IOAS(), ranges)
	if len(ranges) == 0 {
		t.Fatal("IOAS reports no usable IOVA range")
	}
	for _, r := range ranges {
		if r.Start <= 0xfee00000 && r.End >= 0xfee00000 {
			t.Errorf("IOVA range %#x covers the MSI window at 0xfee00000", r)
		}
	}
}

// TestGuestVFIOAPI: with /dev/iommu (the source-built kernel), APIAuto takes
// the cdev, and the device opens through either API in turn, its BAR and
// DMA working both ways. Without it (Debian's kernel), APIAuto takes the
// group and says why, and APICdev fails with ErrNoIOMMUFD naming the fix.
func TestGuestVFIOAPI(t *testing.T) {
	labtest.InGuest(t)
	const bdf = "0000:00:03.0"
	api, why, err := SelectAPI(bdf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("auto: %v (%s)", api, why)
	if _, err := os.Stat(DefaultIOMMUDev); err != nil {
		if api != APIGroup || !strings.Contains(why, "no /dev/iommu") {
			t.Errorf("without iommufd: auto = %v (%s), want group because of /dev/iommu", api, why)
		}
		d, err := Open(bdf, &Options{API: APICdev})
		if err == nil {
			d.Close()
			t.Fatal("Open with APICdev succeeded without /dev/iommu")
		}
		if !errors.Is(err, ErrNoIOMMUFD) || !strings.Contains(err.Error(), "--vfio-api group") {
			t.Errorf("Open with APICdev = %v, want ErrNoIOMMUFD naming --vfio-api group", err)
		}
		return
	}
	if api != APICdev || !strings.Contains(why, "/dev/vfio/devices/vfio") {
		t.Errorf("with iommufd: auto = %v (%s), want cdev", api, why)
	}
	for _, a := range []API{APIGroup, APICdev, APIGroup} {
		d, err := Open(bdf, &Options{API: a})
		if err != nil {
			t.Fatalf("Open with %v: %v", a, err)
		}
		if d.API() != a {
			t.Errorf("Open with %v: API() = %v", a, d.API())
		}
		bar, err := d.BAR(0)
		if err != nil {
			t.Fatal(err)
		}
		if got := macOf(bar); got != labVM.NICs[0].MAC {
			t.Errorf("%v: MAC %s, want %s", a, got, labVM.NICs[0].MAC)
		}
		checkDMA(t, d, false)
		if a == APICdev {
			// The device is bound to this iommufd: a second open through
			// the cdev or through the group cannot take it.
			for _, b := range []API{APICdev, APIGroup} {
				if d2, err := Open(bdf, &Options{API: b}); err == nil {
					d2.Close()
					t.Errorf("second Open with %v while the cdev is bound succeeded", b)
				} else {
					t.Logf("second Open with %v: %v", b, err)
				}
			}
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close (%v): %v", a, err)
		}
	}
}

// TestGuestVFIOE1000EMSI drives the e1000e at 0000:00:04.0 with one MSI
// vector (not MSI-X), then resets it, through whichever API APIAuto takes.
func TestGuestVFIOE1000EMSI(t *testing.T) {
	labtest.InGuest(t)
	const bdf = "0000:00:04.0"
	d, bar := openNIC(t, bdf, labVM.NICs[1].MAC)
	t.Logf("%s through the %v API", bdf, d.API())
	info, err := d.IRQInfo(IRQIndexMSI)
	if err != nil || info.Count < 1 {
		t.Fatalf("MSI info %+v, %v", info, err)
	}
	bar.Write32(regIMC, 0xffffffff)
	bar.Read32(regICR)
	irqs, err := d.EnableMSI(1)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := waitIRQ(irqs[0], 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with every cause masked = %d, %v; want a timeout", n, err)
	}
	bar.Write32(regIMS, icrLSC)
	for i := 0; i < 3; i++ {
		bar.Write32(regICS, icrLSC)
		n, err := waitIRQ(irqs[0], 5*time.Second)
		if err != nil {
			t.Fatalf("MSI %d: %v", i, err)
		}
		icr := bar.Read32(regICR) // read-to-clear outside MSI-X mode
		t.Logf("MSI %d: count %d, ICR %#x", i, n, icr)
		if icr&icrLSC == 0 {
			t.Errorf("MSI %d: ICR %#x lacks LSC", i, icr)
		}
	}
	bar.Write32(regIMC, 0xffffffff)
	time.Sleep(20 * time.Millisecond) // let QEMU's per-vector throttling timer expire (see the MSI-X test)
	if err := d.DisableIRQ(IRQIndexMSI); err != nil {
		t.Errorf("DisableIRQ(MSI): %v", err)
	}
	// VFIO_DEVICE_RESET on the same device fd (the 82574L on bus 0 offers
	// the PM reset: QEMU acknowledges it without touching the registers).
	if d.Info().Flags&DeviceFlagsReset == 0 {
		t.Logf("%s offers no reset", bdf)
	} else if err := d.Reset(); err != nil {
		t.Errorf("Reset through the %v API: %v", d.API(), err)
	} else if st := bar.Read32(regSTATUS); st == 0xffffffff {
		t.Errorf("STATUS after reset = %#x", st)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
