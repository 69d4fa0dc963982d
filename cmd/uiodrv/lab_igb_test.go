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
