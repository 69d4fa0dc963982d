package bench

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/uiodrv/uiodrv/internal/testframe"
)

// The bench protocol: the lab's UDP/IPv4 test frames (internal/testframe's
// header layer: one distinct 5-tuple per flow, IPv4 header checksum set,
// UDP checksum 0, which IPv4 allows and which lets a query reply rewrite its
// payload in place) carrying a small payload whose first byte is an op. The
// guest side (uiodrv's Handler or the kernel peer's AF_PACKET loop) serves
// it identically, so the host measures both with the same code and the same
// frames. Count and reflect frames are ReflectLen bytes (64 on the wire with
// the FCS QEMU does not carry); query and done frames, which come back with
// the counters, QueryLen.
//
//	offset  size
//	0       6   destination MAC: DstMAC, which no NIC owns (see below)
//	6       6   source MAC
//	12      2   EtherType 0x0800
//	14      20  IPv4: 10.1.(flow>>8).(flow&255) > 10.2.0.1, protocol 17
//	34      8   UDP: source port testframe.SrcPortBase+flow, destination port testframe.Port
//	42      1   op
//	43      1   reserved (0)
//	44      8   sequence number or host timestamp, echoed unchanged
//	52      8   query reply: frames of OpCount served since start
//	60      8   query reply: frames of OpReflect served since start
//	68      8   query reply: guest busy CPU time (USER_HZ ticks, /proc/stat)
//	76      8   query reply: guest total CPU time (USER_HZ ticks, /proc/stat)
//
// The e1000 targets get flow 0 only; the igb targets BenchFlows flows, which
// RSS (it hashes only IP flows) spreads over their queues. A reflector swaps
// only the MACs.
//
// The destination MAC is DstMAC, not the NIC's own, and every target (uiodrv
// and the kernel's driver alike) runs promiscuous: the guest kernel marks the
// frames PACKET_OTHERHOST, and its IPv4 stack drops them at the first check
// of ip_rcv, before counting or routing them. Addressed to the NIC's own MAC
// they would cost the kernel baseline a route lookup and an ip_error drop per
// frame that the uiodrv side never pays (bench/README.md, "Frames").
const (
	// ReflectLen: the headers, op, reserved byte and sequence number (52
	// bytes) padded to Ethernet's minimum without the FCS.
	ReflectLen = 60
	QueryLen   = testframe.HeaderLen + offEnd // 84: the counters too

	offOp      = 0 // in the payload (after testframe.HeaderLen)
	offSeq     = 2
	offCount   = 10
	offReflect = 18
	offBusy    = 26
	offTotal   = 34
	offEnd     = 42
)

// DstMAC is the destination of every frame the host sends: locally
// administered, unicast and nobody's, so that the guest kernel's IPv4 stack
// drops the frames at once (PACKET_OTHERHOST); targets run promiscuous.
var DstMAC = [6]byte{0x02, 0x75, 0x62, 0x65, 0x6e, 0x63} // "ubenc"

// Ops of the bench protocol.
const (
	OpCount   byte = 'C' // count and consume (the RX-rate and CPU tests)
	OpReflect byte = 'R' // swap MACs and send back (round trip, throughput)
	OpQuery   byte = 'Q' // fill in the counters and send back
	OpDone    byte = 'D' // the host is done with this target: acknowledge (as a query)
)

// Counters are what a query reply carries.
type Counters struct {
	Count, Reflect uint64 // frames of each op served since start
	Busy, Total    uint64 // guest CPU ticks from /proc/stat, all CPUs
}

// FrameLen is the length of a frame of op: QueryLen for OpQuery and OpDone,
// ReflectLen otherwise.
func FrameLen(op byte) int {
	if op == OpQuery || op == OpDone {
		return QueryLen
	}
	return ReflectLen
}

// BuildFrame writes a protocol frame of op with seq on flow 0 into f
// (len(f) >= FrameLen(op)) and returns it.
func BuildFrame(f []byte, dst, src [6]byte, op byte, seq uint64) []byte {
	return BuildFlowFrame(f, dst, src, op, seq, 0)
}

// BuildFlowFrame writes a protocol frame of op with seq on flow
// (0..testframe.MaxFlows-1) into f (len(f) >= FrameLen(op)) and returns
// f[:FrameLen(op)]. It does not allocate.
func BuildFlowFrame(f []byte, dst, src [6]byte, op byte, seq uint64, flow int) []byte {
	f = testframe.PutHeaders(f, dst, src, flow, FrameLen(op))
	p := f[testframe.HeaderLen:]
	clear(p)
	p[offOp] = op
	binary.BigEndian.PutUint64(p[offSeq:], seq)
	return f
}

// payload returns the bench payload of a protocol frame: headers exactly as
// testframe.PutHeaders writes them (a frame altered in its headers is not
// ours, nor are other protocols' frames: IPv6 router solicitations from the
// kernel peer's interface, for example) and room for op and sequence number
// (for queries, the counters too).
func payload(f []byte) ([]byte, bool) {
	_, p, ok := testframe.ParseHeaders(f)
	if !ok {
		_, p, ok = parseUDPReply(f)
	}
	if !ok {
		return nil, false
	}
	return checkPayload(p)
}

// checkPayload says whether p is long enough for its op.
func checkPayload(p []byte) ([]byte, bool) {
	if len(p) < offCount {
		return nil, false
	}
	if (p[offOp] == OpQuery || p[offOp] == OpDone) && len(p) < offEnd {
		return nil, false
	}
	return p, true
}

// ParseFrame returns the op and sequence number of a protocol frame; ok is
// false for anything else.
func ParseFrame(f []byte) (op byte, seq uint64, ok bool) {
	p, ok := payload(f)
	if !ok {
		return 0, 0, false
	}
	return p[offOp], binary.BigEndian.Uint64(p[offSeq:]), true
}

// FlowOf returns the flow of a protocol frame (ok false for anything else).
func FlowOf(f []byte) (flow int, ok bool) {
	if _, ok := payload(f); !ok {
		return 0, false
	}
	if flow, _, ok := testframe.ParseHeaders(f); ok {
		return flow, true
	}
	flow, _, _ = parseUDPReply(f)
	return flow, true
}

// ParseCounters reads the counters of a query reply (a query frame
// ParseFrame accepts; zeros for anything else).
func ParseCounters(f []byte) Counters {
	p, ok := payload(f)
	if !ok || len(p) < offEnd {
		return Counters{}
	}
	return Counters{
		Count:   binary.BigEndian.Uint64(p[offCount:]),
		Reflect: binary.BigEndian.Uint64(p[offReflect:]),
		Busy:    binary.BigEndian.Uint64(p[offBusy:]),
		Total:   binary.BigEndian.Uint64(p[offTotal:]),
	}
}

// Server is the guest side of the protocol, shared by uiodrv's handler and
// the kernel peer. It is used from one goroutine at a time.
type Server struct {
	// Written by the one serving goroutine, read by anyone: atomics (plain
	// loads and stores on amd64, so the per-frame cost is nil).
	count, reflect atomic.Uint64
	done           atomic.Bool
	// CPU reads the guest's CPU ticks for query replies; nil leaves them 0.
	CPU func() (busy, total uint64)
}

// Serve handles one frame in place and reports whether it is to be sent back.
// It does not allocate (CPU aside).
func (s *Server) Serve(f []byte) (reply bool) {
	p, ok := payload(f)
	if !ok || !s.ServePayload(p) {
		return false
	}
	var m [6]byte
	copy(m[:], f[0:6])
	copy(f[0:6], f[6:12])
	copy(f[6:12], m[:])
	return true
}

// ServePayload handles a frame's bench payload (what follows the UDP
// header; a UDP socket's datagram) in place and reports whether it is to be
// sent back. It does not allocate (CPU aside).
func (s *Server) ServePayload(p []byte) (reply bool) {
	if _, ok := checkPayload(p); !ok {
		return false
	}
	switch p[offOp] {
	case OpCount:
		s.count.Store(s.count.Load() + 1)
		return false
	case OpReflect:
		s.reflect.Store(s.reflect.Load() + 1)
	case OpQuery, OpDone:
		if p[offOp] == OpDone {
			s.done.Store(true)
		}
		binary.BigEndian.PutUint64(p[offCount:], s.count.Load())
		binary.BigEndian.PutUint64(p[offReflect:], s.reflect.Load())
		if s.CPU != nil {
			b, t := s.CPU()
			binary.BigEndian.PutUint64(p[offBusy:], b)
			binary.BigEndian.PutUint64(p[offTotal:], t)
		}
	default:
		return false
	}
	return true
}

// Served returns the frames counted and reflected so far.
func (s *Server) Served() (count, reflect uint64) { return s.count.Load(), s.reflect.Load() }

// Done reports whether an OpDone frame has been served.
func (s *Server) Done() bool { return s.done.Load() }
