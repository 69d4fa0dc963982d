package vfio

import (
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// TestDeviceKeepDMA: after KeepDMA, Close leaves the memory of the Device's
// Allocators mapped for the device and in the process (the device could not
// be reset and may still write it); without it, Close unmaps and frees it.
func TestDeviceKeepDMA(t *testing.T) {
	for _, keep := range []bool{false, true} {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC) // stands in for the device fd: Close closes it
		if err != nil {
			t.Fatal(err)
		}
		d := &Device{Name: "0000:00:03.0", fd: fd, bars: map[int][]byte{}, irqs: map[*IRQ]struct{}{}, active: map[int]bool{}}
		a, m, fm := newAlloc(t, AllocatorOptions{})
		d.allocs = append(d.allocs, a)
		r, err := a.Alloc(8192)
		if err != nil {
			t.Fatal(err)
		}
		if keep {
			d.KeepDMA()
		}
		if err := d.DisableInterrupts(); err != nil { // nothing attached: a no-op
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		kept := len(m.maps) == 1 && len(fm.live) == 1 && r.Bytes() != nil
		freed := len(m.maps) == 0 && len(fm.live) == 0
		if (keep && !kept) || (!keep && !freed) {
			t.Errorf("KeepDMA %v: %d IOMMU mappings and %d mmaps left", keep, len(m.maps), len(fm.live))
		}
	}
}
