package qemu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Flows builds UDP/IPv4 frames over N flows, each flow a distinct 5-tuple
// (source address and port vary with the flow index), and numbers the frames
// of each flow from 0: something for receive-side scaling to spread over
// queues, and a way to check that no flow was reordered (FlowOrder).
//
// Frame layout after the UDP header: "UIOF", flow index (4 bytes), flow
// sequence number (4 bytes), then a pattern derived from both, so a frame
// altered anywhere is detected by ParseFlowFrame.
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
	MaxFlows     = 1 << 16
	flowHdrLen   = 14 + 20 + 8 // Ethernet, IPv4 without options, UDP
	flowMagic    = "UIOF"
	flowMinFrame = flowHdrLen + 12
	flowDstPort  = 4791
)

// ErrNotFlowFrame: ParseFlowFrame was given a frame that Flows did not build
// (or that was altered on the way).
var ErrNotFlowFrame = errors.New("not a lab flow frame")

// NewFlows prepares n flows (1 to MaxFlows) of size-byte frames (54 to
// 1514: headers and 12 bytes of flow data at least) from MAC src to MAC dst.
func NewFlows(n, size int, dst, src [6]byte) (*Flows, error) {
	if n < 1 || n > MaxFlows {
		return nil, fmt.Errorf("flows: %d flows, want 1 to %d", n, MaxFlows)
	}
	if size < flowMinFrame || size > 1514 {
		return nil, fmt.Errorf("flows: frame size %d, want %d to 1514", size, flowMinFrame)
	}
	return &Flows{dst: dst, src: src, size: size, next: make([]uint32, n)}, nil
}

// N is the number of flows.
func (f *Flows) N() int { return len(f.next) }

// Tuple is flow i's 5-tuple: 10.1.(i>>8).(i&255) port 1024+i to 10.2.0.1
// port 4791. Every flow differs in both its source address and port.
func (f *Flows) Tuple(i int) FiveTuple { return flowTuple(i) }

func flowTuple(i int) FiveTuple {
	return FiveTuple{
		Src:     netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}),
		Dst:     netip.AddrFrom4([4]byte{10, 2, 0, 1}),
		SrcPort: uint16(1024 + i%(65536-1024)),
		DstPort: flowDstPort,
		Proto:   17,
	}
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
	b := buf[:f.size]
	tp := flowTuple(i)
	copy(b[0:6], f.dst[:])
	copy(b[6:12], f.src[:])
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ipLen := f.size - 14
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	binary.BigEndian.PutUint16(ip[4:], uint16(seq)) // identification
	binary.BigEndian.PutUint16(ip[6:], 0x4000)      // don't fragment
	ip[8], ip[9] = 64, tp.Proto
	ip[10], ip[11] = 0, 0
	src, dst := tp.Src.As4(), tp.Dst.As4()
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:], ^csumAdd(0, ip))
	udp := b[34:]
	binary.BigEndian.PutUint16(udp[0:], tp.SrcPort)
	binary.BigEndian.PutUint16(udp[2:], tp.DstPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	udp[6], udp[7] = 0, 0
	copy(udp[8:12], flowMagic)
	binary.BigEndian.PutUint32(udp[12:], uint32(i))
	binary.BigEndian.PutUint32(udp[16:], seq)
	for j := 20; j < len(udp); j++ {
		udp[j] = byte(uint32(i)*31 + seq*7 + uint32(j))
	}
	binary.BigEndian.PutUint16(udp[6:], udpChecksum(src, dst, udp))
	return b
}

// ParseFlowFrame returns the flow index and sequence number of a frame that
// Flows built, checking every byte after the MAC addresses (which a
// reflector swaps): headers, checksums, the 5-tuple of that flow, the payload.
func ParseFlowFrame(b []byte) (flow int, seq uint32, err error) {
	if len(b) < flowMinFrame || binary.BigEndian.Uint16(b[12:]) != 0x0800 || string(b[42:46]) != flowMagic {
		return 0, 0, ErrNotFlowFrame
	}
	flow = int(binary.BigEndian.Uint32(b[46:]))
	seq = binary.BigEndian.Uint32(b[50:])
	if flow < 0 || flow >= MaxFlows {
		return 0, 0, fmt.Errorf("%w: flow index %d", ErrNotFlowFrame, flow)
	}
	var want [1514]byte
	var f Flows
	f.size = len(b)
	if f.size > len(want) {
		return 0, 0, fmt.Errorf("%w: %d bytes", ErrNotFlowFrame, len(b))
	}
	w := f.Frame(want[:], flow, seq)
	for j := 12; j < len(b); j++ {
		if b[j] != w[j] {
			return flow, seq, fmt.Errorf("%w: flow %d seq %d differs at byte %d", ErrNotFlowFrame, flow, seq, j)
		}
	}
	return flow, seq, nil
}

func csumAdd(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// udpChecksum is RFC 768's checksum over the IPv4 pseudo-header and the
// datagram (its checksum field zero); 0 is sent as 0xffff.
func udpChecksum(src, dst [4]byte, udp []byte) uint16 {
	var ph [12]byte
	copy(ph[0:4], src[:])
	copy(ph[4:8], dst[:])
	ph[9] = 17
	binary.BigEndian.PutUint16(ph[10:], uint16(len(udp)))
	s := ^csumAdd(uint32(csumAdd(0, ph[:])), udp)
	if s == 0 {
		s = 0xffff
	}
	return s
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
