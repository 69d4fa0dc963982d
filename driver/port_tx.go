package driver

import (
	"errors"
	"fmt"
)

// transmit sends txs on queue t; frames the TX ring refuses are counted on
// from and their buffers appended to free.
func (t *queue) transmit(from *queue, txs []TxDesc, free []uint32) []uint32 {
	nic := t.p.nic
	t.txMu.Lock()
	k := nic.TxBurst(t.id, txs)
	if k < len(txs) {
		// Make room and try once more before giving up on the rest.
		nic.Reclaim(t.id)
		k += nic.TxBurst(t.id, txs[k:])
	}
	t.txMu.Unlock()
	var bytes uint64
	for _, d := range txs[:k] {
		bytes += uint64(d.Len)
	}
	t.c.txPackets.Add(uint64(k))
	t.c.txBytes.Add(bytes)
	for _, d := range txs[k:] {
		free = append(free, d.Buf)
	}
	if k < len(txs) {
		from.c.txDropped.Add(uint64(len(txs) - k))
	}
	return free
}

// ErrFrameSize is wrapped by Transmit for a frame that is empty or larger
// than a packet buffer.
var ErrFrameSize = errors.New("driver: frame size")

// Transmit queues frames from outside the bottom halves (a packet
// generator) on queue 0: it copies each into a pool buffer. It returns how
// many were queued, which is fewer than len(frames) when the buffer pool or
// the TX ring is full. A frame that is empty or larger than a buffer is
// refused before anything is queued: the error wraps ErrFrameSize and
// nothing is sent.
func (p *Port) Transmit(frames [][]byte) (int, error) {
	for i, f := range frames {
		if len(f) == 0 || len(f) > p.bufSize {
			return 0, fmt.Errorf("%w: frame %d is %d bytes, want 1 to %d", ErrFrameSize, i, len(f), p.bufSize)
		}
	}
	txs := make([]TxDesc, 0, len(frames))
	for _, f := range frames {
		b, ok := p.bufs.Get()
		if !ok {
			break
		}
		n := copy(p.bufs.Packet(b, len(f)), f)
		txs = append(txs, TxDesc{Buf: b, Len: uint16(n)})
	}
	q := p.queues[0]
	free := q.transmit(q, txs, nil)
	sent := len(txs) - len(free)
	if p.batcher != nil {
		q.txMu.Lock()
		p.batcher.FlushTx(q.id) // not from the bottom half: do not wait for its idle flush
		q.txMu.Unlock()
	}
	if len(free) > 0 {
		p.bufs.PutMany(free)
	}
	return sent, nil
}
