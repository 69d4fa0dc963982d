package drivertest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
)

// The kit's frames are IPv4/UDP from 10.0.0.2:40000+flow to 10.0.0.1:9, so
// that a NIC with RSS spreads them by flow. The payload carries a tag that
// says which frame it is, and a pattern derived from it, so a frame that comes
// back can be checked byte for byte against the one that was sent.
const (
	frameMagic = "UIODRVCK"
	hdrLen     = 14 + 20 + 8
	tagLen     = len(frameMagic) + 2 + 4 + 4 // magic, flow, seq, id
	minFrame   = 60
)

var kitSrcMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}

// tag identifies a kit frame.
type tag struct {
	flow uint16 // RSS flow (UDP source port offset); for TX, the queue
	seq  uint32 // order within the flow
	id   uint32 // unique in a check
}

// shortFlow in a tag's flow asks for a minimum-size frame: bursts of them fit
// the buffers between a real NIC and the wire.
const shortFlow = 0x8000

// frameLen varies the length with id between 60 and 1514 bytes.
func frameLen(t tag) int {
	if t.flow&shortFlow != 0 {
		return minFrame
	}
	return minFrame + int(t.id*97%uint32(1514-minFrame+1))
}

// buildFrame writes the frame for t, addressed to dst.
func buildFrame(dst net.HardwareAddr, t tag) []byte {
	n := frameLen(t)
	f := make([]byte, n)
	copy(f[0:6], dst)
	copy(f[6:12], kitSrcMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(n-14))
	copy(ip[12:16], []byte{10, 0, 0, 2})
	copy(ip[16:20], []byte{10, 0, 0, 1})
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip[:20]))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], 40000+t.flow)
	binary.BigEndian.PutUint16(udp[2:], 9)
	binary.BigEndian.PutUint16(udp[4:], uint16(n-14-20))
	p := f[hdrLen:]
	copy(p, frameMagic)
	binary.BigEndian.PutUint16(p[8:], t.flow)
	binary.BigEndian.PutUint32(p[10:], t.seq)
	binary.BigEndian.PutUint32(p[14:], t.id)
	for i := hdrLen + tagLen; i < n; i++ {
		f[i] = byte(uint32(i)*31 + t.id)
	}
	return f
}

func ipChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// parseFrame finds the tag of a kit frame and checks every byte against the
// frame that tag names. ok is false for a frame that is not the kit's (the
// lab's ARP, say); err says how a kit frame was altered.
func parseFrame(dst net.HardwareAddr, f []byte) (t tag, ok bool, err error) {
	if len(f) < hdrLen+tagLen || string(f[hdrLen:hdrLen+len(frameMagic)]) != frameMagic {
		return tag{}, false, nil
	}
	p := f[hdrLen:]
	t = tag{flow: binary.BigEndian.Uint16(p[8:]), seq: binary.BigEndian.Uint32(p[10:]), id: binary.BigEndian.Uint32(p[14:])}
	want := buildFrame(dst, t)
	// A NIC may pad a short frame to 60 bytes; kit frames are never short.
	if !bytes.Equal(f, want) {
		at := 0
		for at < min(len(f), len(want)) && f[at] == want[at] {
			at++
		}
		return t, true, fmt.Errorf("frame id %d (flow %d seq %d): %d bytes, want %d; first difference at byte %d",
			t.id, t.flow, t.seq, len(f), len(want), at)
	}
	return t, true, nil
}

// IsKitFrame says whether f is one of the kit's frames (IPv4 carrying its
// magic), for a lab relay that should pass nothing else.
func IsKitFrame(f []byte) bool {
	return len(f) >= hdrLen+len(frameMagic) && binary.BigEndian.Uint16(f[12:]) == 0x0800 &&
		string(f[hdrLen:hdrLen+len(frameMagic)]) == frameMagic
}
