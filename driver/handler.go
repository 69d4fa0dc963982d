package driver

import "strconv"

// Verdict is what a handler decides for a frame.
type Verdict uint8

const (
	// Consume: the handler is done with the frame; its buffer is freed.
	Consume Verdict = iota
	// Transmit: send the (possibly modified) frame back out of the port it
	// came in on, zero-copy.
	Transmit
	// Forward: send the frame out of the port's forward port (a copy into
	// that port's buffer).
	Forward
	// Keep: the handler keeps the frame's buffer (Packet.Desc.Buf) and
	// with it Data, past the call. The core neither frees nor reuses the
	// buffer until the handler gives it back with Port.Release. Buffers
	// kept and never released starve the NIC of RX buffers; all of them
	// become invalid when the port closes.
	Keep
)

var verdictNames = [...]string{"consume", "transmit", "forward", "keep"}

// String returns the verdict's lower-case name.
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// Packet is a received frame handed to a Handler.
type Packet struct {
	Data    []byte // the frame, a view of DMA memory valid during Handle only
	Desc    RxDesc
	Verdict Verdict // set by the handler; Consume when it does nothing
}

// Handler processes received frames in the bottom half, a batch at a time,
// and sets each packet's Verdict. It must not keep Data past the call
// unless the verdict is Keep. It must not allocate if the packet
// path is to stay allocation-free. A panic is recovered, counted, logged
// (rate-limited) and the batch's buffers freed, kept ones included (the
// handler must not Release them then); the port goes on.
type Handler interface {
	Handle(pkts []Packet)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(pkts []Packet)

// Handle calls f.
func (f HandlerFunc) Handle(pkts []Packet) { f(pkts) }

// consumeAll is the handler of a Config without one.
var consumeAll = HandlerFunc(func([]Packet) {})

// Closer is implemented by handlers that hold resources (a capture file).
type Closer interface {
	Close() error
}
