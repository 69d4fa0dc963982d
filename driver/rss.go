package driver

import (
	"encoding/binary"
	"fmt"
)

// RSSKeySize is the Toeplitz key length of the Intel NICs (RSSRK: 10 registers
// of 4 bytes), enough for an IPv6 4-tuple.
const RSSKeySize = 40

// RETASize is the redirection table's length on the 82576/I350/I210 (RETA: 32
// registers of 4 entries).
const RETASize = 128

// DefaultRSSKey is the key of Microsoft's RSS specification, which its
// published verification vectors use and which drivers commonly default to.
var DefaultRSSKey = [RSSKeySize]byte{
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
}

// Toeplitz is the RSS hash of input under key: for every set bit of the input,
// the 32 key bits starting at that bit position are XORed into the result.
// key must be at least len(input)+4 bytes long.
func Toeplitz(key []byte, input []byte) uint32 {
	var h uint32
	// window holds key bits [i, i+32) for the input bit i being looked at.
	window := binary.BigEndian.Uint32(key)
	for i, b := range input {
		next := key[i+4]
		for bit := 7; bit >= 0; bit-- {
			if b&(1<<bit) != 0 {
				h ^= window
			}
			window = window<<1 | uint32(next>>bit)&1
		}
	}
	return h
}

// RSS spreads flows over queues the way the NIC does: a Toeplitz hash of the
// flow's addresses (and ports, for TCP and UDP), whose low 7 bits index a
// redirection table of queue numbers. A flow always hashes the same way, so
// it always lands on one queue and keeps its order.
type RSS struct {
	Key  [RSSKeySize]byte
	RETA [RETASize]uint8
}

// NewRSS spreads over queues round-robin through the table, with the default
// key, as the Linux igb driver does (igb_setup_mrqc).
func NewRSS(queues int) (*RSS, error) {
	if queues < 1 || queues > 16 {
		return nil, fmt.Errorf("%w: RSS over %d queues: want 1..16", ErrBadConfig, queues)
	}
	r := &RSS{Key: DefaultRSSKey}
	for i := range r.RETA {
		r.RETA[i] = uint8(i % queues)
	}
	return r, nil
}

// Hash is the RSS hash of an Ethernet frame and whether the frame has one:
// IPv4 TCP or UDP hash source and destination addresses and ports, other IPv4
// the addresses only; everything else (ARP, IPv6 here, fragments' ports) has
// no hash and goes to queue 0, as on the NIC.
func (r *RSS) Hash(frame []byte) (uint32, bool) {
	var in [12]byte
	n := flowTuple(frame, &in)
	if n == 0 {
		return 0, false
	}
	return Toeplitz(r.Key[:], in[:n]), true
}

// Queue is the queue a frame lands on.
func (r *RSS) Queue(frame []byte) int {
	h, ok := r.Hash(frame)
	if !ok {
		return 0
	}
	return int(r.RETA[h&(RETASize-1)])
}

// flowTuple writes the hash input of an IPv4 frame into in (src, dst
// addresses, then src, dst ports for an unfragmented TCP or UDP datagram) and
// returns its length, or 0 when the frame has no hash.
func flowTuple(f []byte, in *[12]byte) int {
	const eth = 14
	if len(f) < eth+20 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
		return 0
	}
	ip := f[eth:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || len(ip) < ihl {
		return 0
	}
	copy(in[0:8], ip[12:20])
	proto := ip[9]
	fragmented := binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 // MF or an offset
	if (proto != 6 && proto != 17) || fragmented || len(ip) < ihl+4 {
		return 8
	}
	copy(in[8:12], ip[ihl:ihl+4])
	return 12
}
