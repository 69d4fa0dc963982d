package main

import (
	"strings"
	"testing"
	"time"
)

// TestLabIGB: 'uiodrv lab --nic igb', the whole lab command on QEMU's igb
// (82576) behind the vIOMMU: every frame the host sends comes back
// reflected, checked byte for byte (internal/testframe), none altered,
// lost or duplicated, and the guest names the model the registry found.
func TestLabIGB(t *testing.T) {
	f := &labFlags{nic: "igb", mode: "napi", backend: "vfio", rate: 500, duration: 3 * time.Second,
		size: 200, kernel: "stable"}
	out, err := labRun(t, f)
	if err != nil {
		t.Fatalf("uiodrv lab --nic igb: %v", err)
	}
	tr := f.traffic
	if sent := tr.sent.Load(); sent != 1500 || tr.intact.Load() != sent || tr.corrupt.Load() != 0 || tr.dup.Load() != 0 {
		t.Fatalf("sent %d, reflected intact %d, altered %d, duplicated %d; want 1500, 1500, 0, 0",
			sent, tr.intact.Load(), tr.corrupt.Load(), tr.dup.Load())
	}
	if !strings.Contains(out, "uiodrv: ready on "+labBDF+" (82576 ") {
		t.Errorf("the guest does not report an 82576 ready on %s", labBDF)
	}
}

// TestLabE1000eMSIX: 'uiodrv lab --nic e1000e --guest-arg=--msix': the
// family-neutral MSI-X option reaches the 82574L through the registry's
// Open, which attaches three vectors (RX, TX, other), and every frame comes
// back intact.
func TestLabE1000eMSIX(t *testing.T) {
	f := &labFlags{nic: "e1000e", mode: "threaded", backend: "vfio", rate: 500, duration: 3 * time.Second,
		size: 128, kernel: "stable", guestArgs: []string{"--msix"}}
	out, err := labRun(t, f)
	if err != nil {
		t.Fatalf("uiodrv lab --nic e1000e --msix: %v", err)
	}
	tr := f.traffic
	if sent := tr.sent.Load(); sent != 1500 || tr.intact.Load() != sent || tr.corrupt.Load() != 0 || tr.dup.Load() != 0 {
		t.Fatalf("sent %d, reflected intact %d, altered %d, duplicated %d; want 1500, 1500, 0, 0",
			sent, tr.intact.Load(), tr.corrupt.Load(), tr.dup.Load())
	}
	if !strings.Contains(out, "uiodrv: ready on "+labBDF+" (82574L ") || !strings.Contains(out, `"vectors": 3`) {
		t.Errorf("the guest does not report an 82574L up with 3 vectors")
	}
}
