package driver

import (
	"testing"

	"github.com/uiodrv/uiodrv/deferral"
)

// TestNewPortStartErrorReturns: a port that fails after its queues are set
// up (here a bottom half pinned to a CPU the process may not use) returns
// the error and leaves nothing running; it must not panic in its cleanup.
func TestNewPortStartErrorReturns(t *testing.T) {
	dev := newFakeDev(t, 64)
	before := dev.freeCount()
	p, err := NewPort(dev, Config{Mode: deferral.ModeThreaded, Handler: reflectAll{}, IRQCPU: 0, BHCPU: numCPU() + 3, ThreadPrio: -1})
	if err == nil {
		p.Close()
		t.Fatal("a bottom half on a CPU beyond the machine's was accepted")
	}
	if p != nil {
		t.Fatalf("port %v returned with error %v", p, err)
	}
	t.Logf("error: %v", err)
	if got := dev.freeCount(); got != before {
		t.Errorf("%d buffers free after the failed start, %d before", got, before)
	}
}
