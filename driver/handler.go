package driver

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
)

// Packet is a received frame handed to a Handler.
type Packet struct {
	Data    []byte // the frame, a view of DMA memory valid during Handle only
	Desc    RxDesc
	Verdict Verdict // set by the handler; Consume when it does nothing
}

// Handler processes received frames in the bottom half, a batch at a time.
// It must not keep Data past the call. It must not allocate if the packet
// path is to stay allocation-free. A panic is recovered, counted, logged
// (rate-limited) and the batch's buffers freed; the port goes on.
type Handler interface {
	Handle(pkts []Packet)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(pkts []Packet)

// Handle calls f.
func (f HandlerFunc) Handle(pkts []Packet) { f(pkts) }

// Closer is implemented by handlers that hold resources (a capture file).
type Closer interface {
	Close() error
}
