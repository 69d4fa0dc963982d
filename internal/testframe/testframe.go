package testframe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes and numbers of the format.
const (
	HeaderLen = 14 + 20 + 8 // Ethernet, IPv4 without options, UDP
	MinLen    = 60          // the headers, magic, sequence number and stamp; Ethernet's minimum without FCS
	MaxLen    = 1514        // the lab's MTU of 1500 and the Ethernet header
	MaxFlows  = 1 << 16     // flows 0..MaxFlows-1 have distinct 5-tuples
	// Port is the UDP destination port of every flow, and the source
	// ports are SrcPortBase+flow%SrcPorts: all of them inside a range that
	// no Wireshark dissector is registered for (37009-41169 in Wireshark
	// 4.0), so a capture decodes as plain UDP data. Wireshark tries the
	// lower port of a datagram first, so the source ports matter too. (The
	// port was 4791, IANA's RoCEv2: every frame decoded as InfiniBand.)
	Port        = 40000
	SrcPortBase = 38000
	SrcPorts    = 2000

	etherTypeIPv4 = 0x0800
	offMagic      = HeaderLen
	offSeq        = offMagic + 2
	offStamp      = offSeq + 8
	magic0        = 'U'
	magic1        = 'T'
)

// Frame is what a test frame carries; the rest of it follows from these.
type Frame struct {
	Dst, Src [6]byte // MAC addresses
	Flow     int     // 0..MaxFlows-1: the 5-tuple (Tuple)
	Seq      uint64  // sequence number; the payload pattern derives from it
	Stamp    int64   // free for the sender, e.g. a send time; 0 if unused
	Len      int     // frame length, MinLen..MaxLen
}

// Tuple is flow's 5-tuple (protocol UDP): 10.1.(flow>>8).(flow&255) port
// SrcPortBase+flow%SrcPorts to 10.2.0.1 port Port. Every flow differs in
// its source address; flows below SrcPorts also in their source port.
func Tuple(flow int) (src, dst [4]byte, sport, dport uint16) {
	return [4]byte{10, 1, byte(flow >> 8), byte(flow)}, [4]byte{10, 2, 0, 1}, uint16(SrcPortBase + flow%SrcPorts), Port
}

// Build writes fr into buf and returns buf[:fr.Len]. It panics when fr.Len
// is outside MinLen..MaxLen, fr.Flow outside 0..MaxFlows-1 or buf is shorter
// than fr.Len: those are the caller's bugs, not the wire's.
func Build(buf []byte, fr Frame) []byte {
	if fr.Len < MinLen || fr.Len > MaxLen || fr.Flow < 0 || fr.Flow >= MaxFlows {
		panic(fmt.Sprintf("testframe: Build of a %d-byte frame of flow %d (want %d..%d bytes, flow 0..%d)",
			fr.Len, fr.Flow, MinLen, MaxLen, MaxFlows-1))
	}
	b := buf[:fr.Len]
	copy(b[0:6], fr.Dst[:])
	copy(b[6:12], fr.Src[:])
	for j := MinLen; j < len(b); j++ {
		b[j] = pattern(fr.Flow, fr.Seq, j)
	}
	putTag(b, fr, b[MinLen:])
	return b
}

// pattern is payload byte j of frame seq of flow.
func pattern(flow int, seq uint64, j int) byte {
	return byte(uint64(j)*31 + seq*7 + uint64(flow)*13)
}

// putTag writes bytes 12..MinLen of fr into b (at least MinLen bytes): the
// headers, magic, sequence number and stamp, with the UDP checksum over
// those and rest, the payload after MinLen.
func putTag(b []byte, fr Frame, rest []byte) {
	putHeaders(b, fr.Flow, fr.Len)
	b[offMagic], b[offMagic+1] = magic0, magic1
	binary.BigEndian.PutUint64(b[offSeq:], uint64(fr.Seq))
	binary.BigEndian.PutUint64(b[offStamp:], uint64(fr.Stamp))
	// RFC 768: the sum over the pseudo-header (addresses, protocol, UDP
	// length) and the datagram with its checksum field 0; 0 is sent as
	// 0xffff, so a test frame never has checksum 0 (ParseHeaders' frames).
	s := sum(0, b[26:34])
	s += 17 + uint32(fr.Len-34)
	s = sum(s, b[34:MinLen])
	s = sum(s, rest)
	c := ^fold(s)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[40:], c)
}

// putHeaders writes bytes 12..HeaderLen of an n-byte frame of flow, UDP
// checksum 0.
func putHeaders(b []byte, flow, n int) {
	src, dst, sport, dport := Tuple(flow)
	binary.BigEndian.PutUint16(b[12:], etherTypeIPv4)
	ip := b[14:34]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(n-14))
	ip[4], ip[5] = 0, 0                        // identification
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8], ip[9] = 64, 17
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(0, ip)))
	udp := b[34:42]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(n-34))
	udp[6], udp[7] = 0, 0
}

// sum adds b to s as big-endian 16-bit words (an odd last byte padded).
func sum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// fold is the ones' complement sum of s's 16-bit halves.
func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// Is reports whether f looks like a test frame: IPv4, UDP to Port and the
// magic. It checks nothing else (Check does): a filter for relays and
// captures that should pass the test frames and nothing else.
func Is(f []byte) bool {
	return len(f) >= offSeq && binary.BigEndian.Uint16(f[12:]) == etherTypeIPv4 && f[23] == 17 &&
		binary.BigEndian.Uint16(f[36:]) == Port && f[offMagic] == magic0 && f[offMagic+1] == magic1
}

// ErrAltered is wrapped by every error Check returns: the frame is a test
// frame that differs from the one its tag describes.
var ErrAltered = errors.New("test frame altered")

// Check parses f and verifies every byte from offset 12 against the frame
// Build makes from f's flow, sequence number, stamp and length. ok is false
// when f is not a test frame at all (Is); err, wrapping ErrAltered, says
// where a test frame was altered. The MACs are returned, not checked.
func Check(f []byte) (fr Frame, ok bool, err error) {
	if !Is(f) {
		return Frame{}, false, nil
	}
	if len(f) < MinLen || len(f) > MaxLen {
		return Frame{}, true, fmt.Errorf("%w: %d bytes, want %d to %d", ErrAltered, len(f), MinLen, MaxLen)
	}
	copy(fr.Dst[:], f[0:6])
	copy(fr.Src[:], f[6:12])
	fr.Flow = int(f[28])<<8 | int(f[29])
	fr.Seq = binary.BigEndian.Uint64(f[offSeq:])
	fr.Stamp = int64(binary.BigEndian.Uint64(f[offStamp:]))
	fr.Len = len(f)
	for j := MinLen; j < len(f); j++ {
		if w := pattern(fr.Flow, fr.Seq, j); f[j] != w {
			return fr, true, altered(fr, j, f[j], w)
		}
	}
	var want [MinLen]byte
	putTag(want[:], fr, f[MinLen:])
	for j := 12; j < MinLen; j++ {
		if f[j] != want[j] {
			return fr, true, altered(fr, j, f[j], want[j])
		}
	}
	return fr, true, nil
}

func altered(fr Frame, at int, got, want byte) error {
	return fmt.Errorf("%w: flow %d seq %d (%d bytes): byte %d is %#02x, want %#02x",
		ErrAltered, fr.Flow, fr.Seq, fr.Len, at, got, want)
}

// PutHeaders writes the Ethernet, IPv4 and UDP headers of an n-byte frame
// (HeaderLen..MaxLen) of flow into f and returns f[:n]; the payload
// f[HeaderLen:n] is the caller's, and the UDP checksum is 0 (none), so that
// the payload may be rewritten in place. It panics on bad arguments, as
// Build does.
func PutHeaders(f []byte, dst, src [6]byte, flow, n int) []byte {
	if n < HeaderLen || n > MaxLen || flow < 0 || flow >= MaxFlows {
		panic(fmt.Sprintf("testframe: PutHeaders of a %d-byte frame of flow %d", n, flow))
	}
	f = f[:n]
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	putHeaders(f, flow, n)
	return f
}

// ParseHeaders returns the flow and payload of a frame whose headers are
// exactly as PutHeaders writes them (UDP checksum 0 included); ok is false
// for any other frame, test frames (Check) among them.
func ParseHeaders(f []byte) (flow int, payload []byte, ok bool) {
	if len(f) < HeaderLen || len(f) > MaxLen || binary.BigEndian.Uint16(f[12:]) != etherTypeIPv4 || f[26] != 10 || f[27] != 1 {
		return 0, nil, false
	}
	flow = int(f[28])<<8 | int(f[29])
	var want [HeaderLen]byte
	putHeaders(want[:], flow, len(f))
	for j := 12; j < HeaderLen; j++ {
		if f[j] != want[j] {
			return 0, nil, false
		}
	}
	return flow, f[HeaderLen:], true
}
