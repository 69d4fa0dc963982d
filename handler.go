package uiodrv

import "github.com/uiodrv/uiodrv/driver"

// Handler is what a user of uiodrv writes: the port's bottom half calls
// Handle with a batch of received frames, and the handler sets each
// packet's Verdict:
//
//   - Drop (the zero value): the frame's buffer goes back to the pool;
//   - Transmit: the frame, as the handler left it in Data (it may rewrite
//     it in place, or point Data at another frame of at most a buffer's
//     size, which is then copied), leaves by the port it came in on;
//   - Forward: a copy leaves by Config.Forward's port;
//   - Keep: the handler keeps the buffer (Packet.Desc.Buf) and its Data
//     after Handle returns, until it calls Port.Release; the port never
//     reuses a kept buffer before that.
//
// Data is a view of DMA memory, valid during Handle only (Keep aside).
// Handle runs on the bottom half's thread; with several queues it is called
// concurrently, once per queue. It must not block, and it must not allocate
// if the packet path is to stay allocation-free. A panic is recovered and
// counted, and the batch dropped. A handler that also implements
// driver.Closer is closed when the port closes. The handler package holds
// ready-made ones (count, reflect, forward, capture to pcap, chain).
type Handler = driver.Handler

// HandlerFunc adapts a function to Handler.
type HandlerFunc = driver.HandlerFunc

// Packet is a received frame handed to a Handler: Data, the receive
// descriptor (Desc.Buf names its buffer) and the Verdict to set.
type Packet = driver.Packet

// Verdict is what a Handler decides for a frame.
type Verdict = driver.Verdict

// The verdicts.
const (
	Drop     = driver.Consume
	Transmit = driver.Transmit
	Forward  = driver.Forward
	Keep     = driver.Keep
)
