package bench

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/internal/testframe"
)

// The bench protocol over UDP/IPv4, for NICs with receive-side scaling
// (igb): RSS hashes only IP flows, so frames of EtherType EtherType would all
// land on queue 0. A flow frame is the lab's UDP/IPv4 headers of a flow
// (internal/testframe's header layer: one distinct 5-tuple per flow, IPv4
// header checksum set, UDP checksum 0, which IPv4 allows: the query reply
// rewrites the payload) and then the bench payload, the bytes from offset 14
// of a plain frame, unchanged:
//
//	offset  size
//	0       14  Ethernet, EtherType 0x0800
//	14      20  IPv4: 10.1.(flow>>8).(flow&255) > 10.2.0.1, protocol 17
//	34      8   UDP: source port 1024+flow, destination port testframe.Port
//	42      46  the bench payload (op at 42, sequence number at 44, ...)
//
// Flow i differs from flow j in its source address and port, as qemu.Flows'
// flows do. A reflector swaps only the MACs.
const (
	FlowFrame     = flowShift + MinFrame // 88 bytes
	flowShift     = testframe.HeaderLen - 14
	etherTypeIPv4 = 0x0800
)

// BuildFlowFrame writes a flow frame of op with seq on flow (0..65535) into
// f (len(f) >= FlowFrame) and returns f[:FlowFrame]. It does not allocate.
func BuildFlowFrame(f []byte, dst, src [6]byte, op byte, seq uint64, flow int) []byte {
	f = testframe.PutHeaders(f, dst, src, flow, FlowFrame)
	clear(f[testframe.HeaderLen:])
	f[flowShift+offOp] = op
	binary.BigEndian.PutUint64(f[flowShift+offSeq:], seq)
	return f
}

// FlowOf returns the flow index of a flow frame (ok false for anything else).
func FlowOf(f []byte) (flow int, ok bool) {
	if sh, ok := payloadShift(f); !ok || sh != flowShift {
		return 0, false
	}
	flow, _, _ = testframe.ParseHeaders(f)
	return flow, true
}

// payloadShift is where a protocol frame's payload sits relative to a
// plain frame's: 0 for EtherType frames, flowShift for flow frames whose
// headers are all as BuildFlowFrame writes them (a frame altered in its
// headers is not ours).
func payloadShift(f []byte) (int, bool) {
	if len(f) < MinFrame {
		return 0, false
	}
	if binary.BigEndian.Uint16(f[12:]) == EtherType {
		return 0, true
	}
	if _, _, ok := testframe.ParseHeaders(f); !ok || len(f) != FlowFrame {
		return 0, false
	}
	return flowShift, true
}
