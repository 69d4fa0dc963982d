package handler

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/driver"
)

var (
	_ driver.Handler = (*Count)(nil)
	_ driver.Handler = Reflect{}
	_ driver.Handler = ForwardAll{}
	_ driver.Handler = Chain(nil)
	_ driver.Handler = (*Capture)(nil)
	_ driver.Closer  = Chain(nil)
	_ driver.Closer  = (*Capture)(nil)
)

// Proto indexes the Count handler's per-protocol counters.
type Proto int

const (
	ProtoEthernet Proto = iota // every frame with a whole Ethernet header
	ProtoARP
	ProtoIPv4
	ProtoIPv6
	ProtoTCP
	ProtoUDP
	ProtoICMPv4
	ProtoICMPv6
	ProtoOther     // an EtherType or IP protocol the counter does not decode
	ProtoRunt      // shorter than an Ethernet header (14 bytes)
	ProtoOversize  // longer than 1518 bytes (1500 + header + one VLAN tag)
	ProtoMalformed // a header that does not decode (truncated, bogus lengths)
	numProtos
)

var protoNames = [...]string{"ethernet", "arp", "ipv4", "ipv6", "tcp", "udp", "icmpv4", "icmpv6", "other", "runt", "oversize", "malformed"}

func (p Proto) String() string {
	if p >= 0 && int(p) < len(protoNames) {
		return protoNames[p]
	}
	return fmt.Sprintf("Proto(%d)", int(p))
}

// Protos lists every counter, for reports.
func Protos() []Proto {
	r := make([]Proto, numProtos)
	for i := range r {
		r[i] = Proto(i)
	}
	return r
}

// MaxFrame is the longest frame counted as well-formed: 1500 bytes of payload,
// the Ethernet header and one VLAN tag.
const MaxFrame = 1518

// Count decodes each frame with gopacket's DecodingLayerParser (into
// preallocated layers: no allocation per frame) and counts frames per protocol.
// Frames are consumed unless a later handler in a Chain says otherwise.
//
// Handle may be called concurrently (a Port with several queues calls it
// from each queue's bottom half): a parser and its layers serve one call at
// a time, so each call takes a free decoder, and a new one is made only when
// more calls run at once than ever before (at most one per queue, made at
// warm-up): the packet path stays allocation-free.
type Count struct {
	mu     sync.Mutex                      // guards adding a decoder
	decs   atomic.Pointer[[]*countDecoder] // copy-on-write: readers never lock
	counts [numProtos]atomic.Uint64
}

// countDecoder is one parser with its layers; mu is held by the call using it.
type countDecoder struct {
	mu      sync.Mutex
	parser  *gopacket.DecodingLayerParser
	eth     layers.Ethernet
	arp     layers.ARP
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	payload gopacket.Payload
	decoded []gopacket.LayerType
}

func newCountDecoder() *countDecoder {
	d := &countDecoder{decoded: make([]gopacket.LayerType, 0, 8)}
	d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&d.eth, &d.arp, &d.ip4, &d.ip6, &d.tcp, &d.udp, &d.icmp4, &d.icmp6, &d.payload)
	d.parser.IgnoreUnsupported = true
	return d
}

// NewCount returns a Count handler.
func NewCount() *Count {
	c := &Count{}
	ds := []*countDecoder{newCountDecoder()}
	c.decs.Store(&ds)
	return c
}

// decoder returns a decoder locked for the caller.
func (c *Count) decoder() *countDecoder {
	for _, d := range *c.decs.Load() {
		if d.mu.TryLock() {
			return d
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := newCountDecoder()
	d.mu.Lock()
	ds := append(append([]*countDecoder(nil), *c.decs.Load()...), d)
	c.decs.Store(&ds)
	return d
}

// Handle counts each frame.
func (c *Count) Handle(pkts []driver.Packet) {
	d := c.decoder()
	for i := range pkts {
		c.count(d, pkts[i].Data)
	}
	d.mu.Unlock()
}

func (c *Count) count(d *countDecoder, data []byte) {
	switch {
	case len(data) < 14:
		c.counts[ProtoRunt].Add(1)
		return
	case len(data) > MaxFrame:
		c.counts[ProtoOversize].Add(1)
		return
	}
	err := d.parser.DecodeLayers(data, &d.decoded)
	known := false
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeEthernet:
			c.counts[ProtoEthernet].Add(1)
		case layers.LayerTypeARP:
			c.counts[ProtoARP].Add(1)
			known = true
		case layers.LayerTypeIPv4:
			c.counts[ProtoIPv4].Add(1)
		case layers.LayerTypeIPv6:
			c.counts[ProtoIPv6].Add(1)
		case layers.LayerTypeTCP:
			c.counts[ProtoTCP].Add(1)
			known = true
		case layers.LayerTypeUDP:
			c.counts[ProtoUDP].Add(1)
			known = true
		case layers.LayerTypeICMPv4:
			c.counts[ProtoICMPv4].Add(1)
			known = true
		case layers.LayerTypeICMPv6:
			c.counts[ProtoICMPv6].Add(1)
			known = true
		}
	}
	switch {
	case err != nil || d.parser.Truncated:
		// A layer that fails to decode, or one whose length fields claim
		// more bytes than the frame holds.
		c.counts[ProtoMalformed].Add(1)
	case !known:
		c.counts[ProtoOther].Add(1)
	}
}

// Counts returns a snapshot of the counters, indexed by Proto.
func (c *Count) Counts() [numProtos]uint64 {
	var r [numProtos]uint64
	for i := range r {
		r[i] = c.counts[i].Load()
	}
	return r
}

// Reflect sends every frame back out of the port it came in on, with the
// source and destination MAC addresses swapped. Runts are consumed.
type Reflect struct{}

// Handle swaps MACs and marks each frame for transmission.
func (Reflect) Handle(pkts []driver.Packet) {
	for i := range pkts {
		d := pkts[i].Data
		if len(d) < 14 {
			continue
		}
		var m [6]byte
		copy(m[:], d[0:6])
		copy(d[0:6], d[6:12])
		copy(d[6:12], m[:])
		pkts[i].Verdict = driver.Transmit
	}
}

// ForwardAll marks every frame for the port's forward port, unchanged.
type ForwardAll struct{}

// Handle marks each frame Forward.
func (ForwardAll) Handle(pkts []driver.Packet) {
	for i := range pkts {
		pkts[i].Verdict = driver.Forward
	}
}

// Chain runs handlers in order on each batch; a later one sees (and may
// change) the verdicts of earlier ones.
type Chain []driver.Handler

// Handle runs each handler.
func (c Chain) Handle(pkts []driver.Packet) {
	for _, h := range c {
		h.Handle(pkts)
	}
}

// loggerSetter is a handler that logs (Capture, Chain): a Port gives it
// its logger.
type loggerSetter interface {
	SetLogger(*zap.Logger)
}

// SetLogger gives the handlers that log the port's logger.
func (c Chain) SetLogger(l *zap.Logger) {
	for _, h := range c {
		if s, ok := h.(loggerSetter); ok {
			s.SetLogger(l)
		}
	}
}

// Close closes the handlers that hold resources.
func (c Chain) Close() error {
	var err error
	for _, h := range c {
		if cl, ok := h.(driver.Closer); ok {
			err = errors.Join(err, cl.Close())
		}
	}
	return err
}

// Capture writes every frame to a pcap file (LINKTYPE_ETHERNET, microsecond
// timestamps), readable by tcpdump and tshark. Writes are buffered; Close
// flushes and closes the file.
type Capture struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	bw     *bufio.Writer
	w      *pcapgo.Writer
	log    *zap.Logger // guarded by mu; a Port sets it (SetLogger)
	frames atomic.Uint64
	lost   atomic.Uint64 // frames not written because of a write error
	err    error
	closed bool
}

// NewCapture creates (truncates) path and writes the pcap file header.
func NewCapture(path string) (*Capture, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return nil, fmt.Errorf("capture %s: %w", path, err)
	}
	return &Capture{f: f, path: path, bw: bw, w: w, log: zap.NewNop()}, nil
}

// SetLogger sets where the first write error is logged (NewPort passes the
// port's logger).
func (c *Capture) SetLogger(l *zap.Logger) {
	if l == nil {
		l = zap.NewNop()
	}
	c.mu.Lock()
	c.log = l
	c.mu.Unlock()
}

// Handle appends each frame to the file, never stopping the port. The first
// write error stops the capture: it is logged once, every frame not written
// from then on is counted (Lost), and Close reports the error.
func (c *Capture) Handle(pkts []driver.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.err != nil {
		c.lost.Add(uint64(len(pkts)))
		return
	}
	now := time.Now()
	for i := range pkts {
		d := pkts[i].Data
		ci := gopacket.CaptureInfo{Timestamp: now, CaptureLength: len(d), Length: len(d)}
		if err := c.w.WritePacket(ci, d); err != nil {
			c.err = fmt.Errorf("capture %s: %w", c.path, err)
			c.frames.Add(uint64(i))
			c.lost.Add(uint64(len(pkts) - i))
			c.log.Error("capture write failed; capture stopped, frames are still processed and counted as not captured",
				zap.String("file", c.path), zap.Error(err), zap.Uint64("written", c.frames.Load()))
			return
		}
	}
	c.frames.Add(uint64(len(pkts)))
}

// Lost is how many frames were not written because a write failed.
func (c *Capture) Lost() uint64 { return c.lost.Load() }

// Err is the write error that stopped the capture, or nil.
func (c *Capture) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Frames is how many frames were written.
func (c *Capture) Frames() uint64 { return c.frames.Load() }

// Close flushes and closes the file. Idempotent.
func (c *Capture) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.err
	}
	c.closed = true
	c.err = errors.Join(c.err, c.bw.Flush(), c.f.Close())
	return c.err
}
