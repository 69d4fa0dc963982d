package rt

import (
	"runtime"
	"testing"
)

var sink []byte

func churn(n int) {
	for range n {
		sink = make([]byte, 64<<10)
	}
}

// TestGCOff shows that GCOff keeps the collector from running while garbage
// stays under the limit, where the default pacing collects many times.
func TestGCOff(t *testing.T) {
	runtime.GC()
	c0 := GCCycles()
	churn(800) // 50 MiB of garbage
	if GCCycles() == c0 {
		t.Fatalf("no GC cycle under the default GOGC: the metric is not read")
	}
	runtime.GC()
	restore := GCOff(4 << 30)
	c1 := GCCycles()
	churn(800)
	c2 := GCCycles()
	restore()
	if c2 != c1 {
		t.Errorf("%d GC cycles with GOGC off under the limit, want 0", c2-c1)
	}
}
