package bench

import (
	"encoding/binary"
	"sync/atomic"
)

// The bench protocol: Ethernet frames of EtherType EtherType whose first
// payload byte is an op. The guest side (uiodrv's Handler or the kernel
// peer's AF_PACKET loop) serves it identically, so the host measures both
// with the same code. Frames are at least MinFrame bytes (64 on the wire with
// the FCS QEMU does not carry).
//
//	offset  size
//	0       6   destination MAC
//	6       6   source MAC
//	12      2   EtherType (0x88b5, IEEE local experimental 1)
//	14      1   op
//	15      1   reserved
//	16      8   sequence number or host timestamp, echoed unchanged
//	24      8   reply: frames of OpCount served since start
//	32      8   reply: frames of OpReflect served since start
//	40      8   reply: guest busy CPU time (USER_HZ ticks, /proc/stat)
//	48      8   reply: guest total CPU time (USER_HZ ticks, /proc/stat)
const (
	EtherType = 0x88b5
	MinFrame  = 60

	offOp      = 14
	offSeq     = 16
	offCount   = 24
	offReflect = 32
	offBusy    = 40
	offTotal   = 48
)

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

// BuildFrame writes a protocol frame of op with seq into f (len(f) >=
// MinFrame) and returns f[:MinFrame].
func BuildFrame(f []byte, dst, src [6]byte, op byte, seq uint64) []byte {
	f = f[:MinFrame]
	clear(f)
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], EtherType)
	f[offOp] = op
	binary.BigEndian.PutUint64(f[offSeq:], seq)
	return f
}

// ParseFrame returns the op and sequence number of a protocol frame, plain
// or carried in UDP (BuildFlowFrame); ok is false for anything else (runts,
// other EtherTypes: IPv6 router solicitations from the kernel peer's
// interface, for example).
func ParseFrame(f []byte) (op byte, seq uint64, ok bool) {
	sh, ok := payloadShift(f)
	if !ok {
		return 0, 0, false
	}
	return f[sh+offOp], binary.BigEndian.Uint64(f[sh+offSeq:]), true
}

// ParseCounters reads the counters of a query reply (a frame ParseFrame
// accepts).
func ParseCounters(f []byte) Counters {
	sh, _ := payloadShift(f)
	return Counters{
		Count:   binary.BigEndian.Uint64(f[sh+offCount:]),
		Reflect: binary.BigEndian.Uint64(f[sh+offReflect:]),
		Busy:    binary.BigEndian.Uint64(f[sh+offBusy:]),
		Total:   binary.BigEndian.Uint64(f[sh+offTotal:]),
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
	sh, ok := payloadShift(f)
	if !ok {
		return false
	}
	switch f[sh+offOp] {
	case OpCount:
		s.count.Store(s.count.Load() + 1)
		return false
	case OpReflect:
		s.reflect.Store(s.reflect.Load() + 1)
	case OpQuery, OpDone:
		if f[sh+offOp] == OpDone {
			s.done.Store(true)
		}
		binary.BigEndian.PutUint64(f[sh+offCount:], s.count.Load())
		binary.BigEndian.PutUint64(f[sh+offReflect:], s.reflect.Load())
		if s.CPU != nil {
			b, t := s.CPU()
			binary.BigEndian.PutUint64(f[sh+offBusy:], b)
			binary.BigEndian.PutUint64(f[sh+offTotal:], t)
		}
	default:
		return false
	}
	var m [6]byte
	copy(m[:], f[0:6])
	copy(f[0:6], f[6:12])
	copy(f[6:12], m[:])
	return true
}

// Served returns the frames counted and reflected so far.
func (s *Server) Served() (count, reflect uint64) { return s.count.Load(), s.reflect.Load() }

// Done reports whether an OpDone frame has been served.
func (s *Server) Done() bool { return s.done.Load() }
