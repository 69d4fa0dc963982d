package drivertest

import (
	"fmt"
	"net"

	"github.com/uiodrv/uiodrv/internal/testframe"
)

// The kit's frames are the lab's test frames (internal/testframe): UDP/IPv4,
// one 5-tuple per flow so that a NIC with RSS spreads them by flow, and a
// payload derived from the frame's tag, so a frame that comes back is checked
// byte for byte against the one that was sent.

var kitSrcMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}

// tag identifies a kit frame. It travels as the test frame's flow and
// sequence number (seq<<32 | id).
type tag struct {
	flow uint16 // RSS flow; for TX, the queue
	seq  uint32 // order within the flow
	id   uint32 // unique in a check
}

// shortFlow in a tag's flow asks for a minimum-size frame: bursts of them fit
// the buffers between a real NIC and the wire.
const shortFlow = 0x8000

// frameLen varies the length with id between 60 and 1514 bytes.
func frameLen(t tag) int {
	if t.flow&shortFlow != 0 {
		return testframe.MinLen
	}
	return testframe.MinLen + int(t.id*97%uint32(testframe.MaxLen-testframe.MinLen+1))
}

func (t tag) frame(dst net.HardwareAddr) testframe.Frame {
	return testframe.Frame{Dst: [6]byte(dst), Src: [6]byte(kitSrcMAC), Flow: int(t.flow),
		Seq: uint64(t.seq)<<32 | uint64(t.id), Len: frameLen(t)}
}

// buildFrame returns the frame for t, addressed to dst.
func buildFrame(dst net.HardwareAddr, t tag) []byte {
	return putFrame(make([]byte, frameLen(t)), dst, t)
}

// putFrame writes the frame for t, addressed to dst, into buf (at least
// frameLen(t) bytes) and returns it.
func putFrame(buf []byte, dst net.HardwareAddr, t tag) []byte {
	return testframe.Build(buf, t.frame(dst))
}

// parseFrame finds the tag of a kit frame and checks every byte against the
// frame that tag names. ok is false for a frame that is not the kit's (the
// lab's ARP, say); err says how a kit frame was altered.
func parseFrame(dst net.HardwareAddr, f []byte) (t tag, ok bool, err error) {
	fr, ok, err := testframe.Check(f)
	if !ok {
		return tag{}, false, nil
	}
	t = tag{flow: uint16(fr.Flow), seq: uint32(fr.Seq >> 32), id: uint32(fr.Seq)}
	switch {
	case err != nil:
		return t, true, fmt.Errorf("frame id %d (flow %d seq %d): %w", t.id, t.flow, t.seq, err)
	case fr.Len != frameLen(t):
		// A NIC may pad a short frame to 60 bytes; kit frames are never short.
		return t, true, fmt.Errorf("frame id %d (flow %d seq %d): %d bytes, want %d", t.id, t.flow, t.seq, fr.Len, frameLen(t))
	case fr.Dst != [6]byte(dst) || fr.Src != [6]byte(kitSrcMAC):
		return t, true, fmt.Errorf("frame id %d (flow %d seq %d): MACs %v > %v, want %v > %v",
			t.id, t.flow, t.seq, net.HardwareAddr(fr.Src[:]), net.HardwareAddr(fr.Dst[:]), kitSrcMAC, dst)
	}
	return t, true, nil
}

// IsKitFrame says whether f is one of the kit's frames (a test frame of
// internal/testframe), for a lab relay that should pass nothing else.
func IsKitFrame(f []byte) bool { return testframe.Is(f) }

// SwapMACs is a copy of frame f with its destination and source MAC
// addresses swapped: what handler.Reflect sends back.
func SwapMACs(f []byte) []byte {
	out := append([]byte(nil), f...)
	copy(out[0:6], f[6:12])
	copy(out[6:12], f[0:6])
	return out
}
