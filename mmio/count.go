package mmio

import "sync/atomic"

// Counting wraps a register file and counts its accesses. Every access to a
// real NIC's BAR is an uncached PCIe round trip, and under QEMU a trap into
// the emulator that takes the lock its main loop needs to feed the RX ring:
// accesses per frame are the cost model of a userspace driver's data path.
//
// The counters are atomic because the top half, the bottom half and a
// statistics reader touch one register file from different threads. Counting
// allocates nothing, so a Counting can sit on the packet path.
type Counting struct {
	Regs
	reads, writes atomic.Uint64
}

// NewCounting wraps r.
func NewCounting(r Regs) *Counting { return &Counting{Regs: r} }

// Read32 counts the read and passes it on.
func (c *Counting) Read32(off uint32) uint32 {
	c.reads.Add(1)
	return c.Regs.Read32(off)
}

// Write32 counts the write and passes it on.
func (c *Counting) Write32(off uint32, v uint32) {
	c.writes.Add(1)
	c.Regs.Write32(off, v)
}

// Accesses is a snapshot of a Counting's counters.
type Accesses struct {
	Reads, Writes uint64
}

// Total is reads plus writes: every one of them traps.
func (a Accesses) Total() uint64 { return a.Reads + a.Writes }

// Sub is the accesses between an earlier snapshot b and a.
func (a Accesses) Sub(b Accesses) Accesses {
	return Accesses{Reads: a.Reads - b.Reads, Writes: a.Writes - b.Writes}
}

// PerFrame divides the accesses by a frame count (0 frames gives 0).
func (a Accesses) PerFrame(frames uint64) float64 {
	if frames == 0 {
		return 0
	}
	return float64(a.Total()) / float64(frames)
}

// Snapshot reads the counters.
func (c *Counting) Snapshot() Accesses {
	return Accesses{Reads: c.reads.Load(), Writes: c.writes.Load()}
}

var _ Regs = (*Counting)(nil)

// Add is the sum of two snapshots' differences.
func (a Accesses) Add(b Accesses) Accesses {
	return Accesses{Reads: a.Reads + b.Reads, Writes: a.Writes + b.Writes}
}
