package driver

import (
	"errors"
	"fmt"
)

// transmit sends q on port t's device; frames the TX ring refuses are
// counted on from and their buffers appended to free.
func (t *Port) transmit(from *Port, q []TxDesc, free []uint32, _ bool) []uint32 {
	t.txMu.Lock()
	k := t.dev.TxBurst(q)
	if k < len(q) {
		// Make room and try once more before giving up on the rest.
		t.dev.ReclaimTx()
		k += t.dev.TxBurst(q[k:])
	}
	t.txMu.Unlock()
	var bytes uint64
	for _, d := range q[:k] {
		bytes += uint64(d.Len)
	}
	t.c.txPackets.Add(uint64(k))
	t.c.txBytes.Add(bytes)
	for _, d := range q[k:] {
		free = append(free, d.Buf)
	}
	if k < len(q) {
		from.c.txDropped.Add(uint64(len(q) - k))
	}
	return free
}

// ErrFrameSize is wrapped by Transmit for a frame that is empty or larger
// than a packet buffer.
var ErrFrameSize = errors.New("driver: frame size")

// Transmit queues frames from outside the bottom half (a packet generator):
// it copies each into a device buffer. It returns how many were queued,
// which is fewer than len(frames) when the buffer pool or the TX ring is
// full. A frame that is empty or larger than a buffer is refused before
// anything is queued: the error wraps ErrFrameSize and nothing is sent.
func (p *Port) Transmit(frames [][]byte) (int, error) {
	for i, f := range frames {
		if len(f) == 0 || len(f) > p.bufSize {
			return 0, fmt.Errorf("%w: frame %d is %d bytes, want 1 to %d", ErrFrameSize, i, len(f), p.bufSize)
		}
	}
	q := p.txq[:0:0]
	for _, f := range frames {
		b, ok := p.dev.AllocBuf()
		if !ok {
			break
		}
		n := copy(p.dev.Packet(b, len(f)), f)
		q = append(q, TxDesc{Buf: b, Len: uint16(n)})
	}
	free := p.transmit(p, q, nil, false)
	if p.txFlush != nil {
		p.txFlush() // not from the bottom half: do not wait for its idle flush
	}
	sent := len(q) - len(free)
	if len(free) > 0 {
		p.dev.FreeBufs(free)
	}
	return sent, nil
}
