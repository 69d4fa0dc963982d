package bench

import "encoding/binary"

// The bench protocol over UDP/IPv4, for NICs with receive-side scaling
// (igb): RSS hashes only IP flows, so frames of EtherType EtherType would all
// land on queue 0. A flow frame is Ethernet, IPv4 (no options, header
// checksum set), UDP to port FlowPort (checksum 0, which IPv4 allows: the
// query reply rewrites the payload) and then the bench payload, the bytes
// from offset 14 of a plain frame, unchanged:
//
//	offset  size
//	0       14  Ethernet, EtherType 0x0800
//	14      20  IPv4: 10.1.(flow>>8).(flow&255) > 10.2.0.1, protocol 17
//	34      8   UDP: source port 1024+flow, destination port FlowPort
//	42      46  the bench payload (op at 42, sequence number at 44, ...)
//
// Flow i differs from flow j in its source address and port, as qemu.Flows'
// flows do. A reflector swaps only the MACs.
const (
	FlowPort      = 4792
	FlowFrame     = flowShift + MinFrame // 88 bytes
	flowShift     = 20 + 8               // IPv4 and UDP headers before the payload
	etherTypeIPv4 = 0x0800
)

// BuildFlowFrame writes a flow frame of op with seq on flow (0..65535) into
// f (len(f) >= FlowFrame) and returns f[:FlowFrame]. It does not allocate.
func BuildFlowFrame(f []byte, dst, src [6]byte, op byte, seq uint64, flow int) []byte {
	f = f[:FlowFrame]
	clear(f)
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], etherTypeIPv4)
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], FlowFrame-14)
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8], ip[9] = 64, 17
	ip[12], ip[13], ip[14], ip[15] = 10, 1, byte(flow>>8), byte(flow)
	ip[16], ip[17], ip[18], ip[19] = 10, 2, 0, 1
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:], uint16(1024+flow%(65536-1024)))
	binary.BigEndian.PutUint16(udp[2:], FlowPort)
	binary.BigEndian.PutUint16(udp[4:], FlowFrame-34)
	f[flowShift+offOp] = op
	binary.BigEndian.PutUint64(f[flowShift+offSeq:], seq)
	return f
}

// FlowOf returns the flow index of a flow frame (ok false for anything else).
func FlowOf(f []byte) (flow int, ok bool) {
	if sh, ok := payloadShift(f); !ok || sh != flowShift {
		return 0, false
	}
	return int(f[28])<<8 | int(f[29]), true
}

// payloadShift is where a protocol frame's payload sits relative to a
// plain frame's: 0 for EtherType frames, flowShift for flow frames whose
// headers are all as BuildFlowFrame writes them (a frame altered in its
// headers is not ours).
func payloadShift(f []byte) (int, bool) {
	if len(f) < MinFrame {
		return 0, false
	}
	switch binary.BigEndian.Uint16(f[12:]) {
	case EtherType:
		return 0, true
	case etherTypeIPv4:
	default:
		return 0, false
	}
	if len(f) < FlowFrame {
		return 0, false
	}
	ip := f[14:34]
	if ip[0] != 0x45 || binary.BigEndian.Uint16(ip[2:]) != FlowFrame-14 || ip[9] != 17 ||
		!ipChecksumOK(ip) ||
		ip[16] != 10 || ip[17] != 2 || ip[18] != 0 || ip[19] != 1 {
		return 0, false
	}
	udp := f[34:42]
	flow := int(ip[14])<<8 | int(ip[15])
	if ip[12] != 10 || ip[13] != 1 || binary.BigEndian.Uint16(udp[0:]) != uint16(1024+flow%(65536-1024)) ||
		binary.BigEndian.Uint16(udp[2:]) != FlowPort || binary.BigEndian.Uint16(udp[4:]) != FlowFrame-34 {
		return 0, false
	}
	return flowShift, true
}

// ipChecksum is the Internet checksum of an IPv4 header whose checksum
// field is taken as zero.
func ipChecksum(ip []byte) uint16 {
	var sum uint32
	for i := 0; i < len(ip); i += 2 {
		if i == 10 {
			continue
		}
		sum += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func ipChecksumOK(ip []byte) bool { return binary.BigEndian.Uint16(ip[10:]) == ipChecksum(ip) }
