package qemu

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/uiodrv/uiodrv/internal/testframe"
)

// Flows builds UDP/IPv4 test frames (internal/testframe) over N flows, each
// flow a distinct 5-tuple (source address and port vary with the flow
// index), and numbers the frames of each flow from 0: something for
// receive-side scaling to spread over queues, and a way to check that no flow
// was reordered (FlowOrder). ParseFlowFrame checks every byte after the MACs.
type Flows struct {
	dst, src [6]byte
	size     int
	next     []uint32
}

// FiveTuple is a flow's addresses, ports and IP protocol.
type FiveTuple struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
}

func (t FiveTuple) String() string {
	return fmt.Sprintf("udp %s:%d > %s:%d", t.Src, t.SrcPort, t.Dst, t.DstPort)
}

// Flow frame constants.
const (
	MaxFlows     = testframe.MaxFlows
	flowMinFrame = testframe.MinLen
)

// ErrNotFlowFrame: ParseFlowFrame was given a frame that Flows did not build
// (or that was altered on the way).
var ErrNotFlowFrame = errors.New("not a lab flow frame")

// NewFlows prepares n flows (1 to MaxFlows) of size-byte frames (60 to
// 1514) from MAC src to MAC dst.
func NewFlows(n, size int, dst, src [6]byte) (*Flows, error) {
	if n < 1 || n > MaxFlows {
		return nil, fmt.Errorf("flows: %d flows, want 1 to %d", n, MaxFlows)
	}
	if size < flowMinFrame || size > testframe.MaxLen {
		return nil, fmt.Errorf("flows: frame size %d, want %d to %d", size, flowMinFrame, testframe.MaxLen)
	}
	return &Flows{dst: dst, src: src, size: size, next: make([]uint32, n)}, nil
}

// N is the number of flows.
func (f *Flows) N() int { return len(f.next) }

// Tuple is flow i's 5-tuple (testframe.Tuple): 10.1.(i>>8).(i&255) port
// 38000+i%2000 to 10.2.0.1 port 40000. Every flow differs in its source address.
func (f *Flows) Tuple(i int) FiveTuple {
	src, dst, sport, dport := testframe.Tuple(i)
	return FiveTuple{Src: netip.AddrFrom4(src), Dst: netip.AddrFrom4(dst), SrcPort: sport, DstPort: dport, Proto: 17}
}

// Next builds the next frame of flow i into buf (at least the frame size)
// and returns it with its sequence number. It does not allocate.
func (f *Flows) Next(buf []byte, i int) ([]byte, uint32) {
	seq := f.next[i]
	f.next[i]++
	return f.Frame(buf, i, seq), seq
}

// Sent is how many frames of flow i Next has built.
func (f *Flows) Sent(i int) uint32 { return f.next[i] }

// Frame builds frame seq of flow i into buf.
func (f *Flows) Frame(buf []byte, i int, seq uint32) []byte {
	return testframe.Build(buf, testframe.Frame{Dst: f.dst, Src: f.src, Flow: i, Seq: uint64(seq), Len: f.size})
}

// ParseFlowFrame returns the flow index and sequence number of a frame that
// Flows built, checking every byte after the MAC addresses (which a
// reflector swaps): headers, checksums, the 5-tuple of that flow, the payload.
func ParseFlowFrame(b []byte) (flow int, seq uint32, err error) {
	fr, ok, err := testframe.Check(b)
	switch {
	case !ok:
		return 0, 0, ErrNotFlowFrame
	case err != nil:
		return fr.Flow, uint32(fr.Seq), fmt.Errorf("%w: %w", ErrNotFlowFrame, err)
	case fr.Seq > 1<<32-1:
		return 0, 0, fmt.Errorf("%w: flow %d seq %d is not a Flows sequence number", ErrNotFlowFrame, fr.Flow, fr.Seq)
	}
	return fr.Flow, uint32(fr.Seq), nil
}

// FlowOrder checks per-flow order of received flow frames: within a flow,
// sequence numbers must increase. Gaps (lost frames) are not reordering.
type FlowOrder struct {
	next      []uint32 // per flow, the seq after the newest one observed
	seen      []bool   // per flow, whether any frame was observed
	Received  uint64   // frames observed
	Reordered uint64   // frames older than one already seen in their flow (or repeated)
	Gaps      uint64   // frames skipped over (lost, or arriving later and then counted as reordered)
}

// NewFlowOrder checks n flows.
func NewFlowOrder(n int) *FlowOrder {
	return &FlowOrder{next: make([]uint32, n), seen: make([]bool, n)}
}

// Observe records frame seq of flow i and reports whether it kept its
// flow's order.
func (o *FlowOrder) Observe(i int, seq uint32) bool {
	o.Received++
	if i < 0 || i >= len(o.next) {
		o.Reordered++
		return false
	}
	if o.seen[i] && seq < o.next[i] {
		o.Reordered++
		return false
	}
	if !o.seen[i] {
		o.Gaps += uint64(seq)
	} else {
		o.Gaps += uint64(seq - o.next[i])
	}
	o.seen[i], o.next[i] = true, seq+1
	return true
}

// Missing counts the frames f sent that were never observed in order:
// the gaps, plus each flow's frames after the last one observed.
func (o *FlowOrder) Missing(f *Flows) uint64 {
	m := o.Gaps
	for i := 0; i < f.N() && i < len(o.next); i++ {
		if f.Sent(i) > o.next[i] {
			m += uint64(f.Sent(i) - o.next[i])
		}
	}
	return m
}

// SendFlow sends the next frame of flow i built by f, using buf (at least
// the frame size) so that nothing is allocated, and returns its sequence number.
func (p *Peer) SendFlow(f *Flows, i int, buf []byte) (uint32, error) {
	frame, seq := f.Next(buf, i)
	return seq, p.Send(frame)
}
