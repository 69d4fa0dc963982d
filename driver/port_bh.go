package driver

import (
	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/deferral"
)

// panicLogFirst and panicLogEvery rate-limit the handler-panic log: the
// first ten, then every thousandth.
const (
	panicLogFirst = 10
	panicLogEvery = 1000
)

func (q *queue) noteHandoff() {
	if t := q.scheduledAt.Swap(0); t != 0 {
		q.p.histMu.Lock()
		q.p.hist.Record(monoNow() - t)
		q.p.histMu.Unlock()
	}
}

// pollRing is the bottom half of the ring-based modes.
func (q *queue) pollRing(budget int) int {
	q.noteHandoff()
	q.c.bhRuns.Add(1)
	if budget > len(q.descs) {
		budget = len(q.descs)
	}
	n := q.rx.DequeueBurst(q.descs[:budget])
	if n > 0 {
		q.process(q.descs[:n])
	}
	q.reclaim()
	return n
}

// pollDevice is the NAPI and busy-poll bottom half: it harvests the NIC's
// queue itself.
func (q *queue) pollDevice(budget int) int {
	q.noteHandoff()
	q.c.bhRuns.Add(1)
	if budget > len(q.descs) {
		budget = len(q.descs)
	}
	p := q.p
	n := p.nic.RxBurst(q.id, q.descs[:budget])
	if n > 0 {
		var bytes uint64
		for _, d := range q.descs[:n] {
			bytes += uint64(d.Len)
		}
		q.c.rxPackets.Add(uint64(n))
		q.c.rxBytes.Add(bytes)
		q.process(q.descs[:n])
		// Refill after processing, when the batch's buffers are back in
		// the pool (as e1000_clean_rx_irq allocates after cleaning).
		p.nic.Refill(q.id)
	}
	q.reclaim()
	if p.batcher != nil {
		q.flushIdle(n)
	}
	return n
}

// reclaim frees the buffers of transmitted frames and, if a top half found
// the pool empty, triggers its queue now that buffers are back: buffers
// return both through process (consumed frames) and here (transmitted ones).
func (q *queue) reclaim() {
	q.txMu.Lock()
	q.p.nic.Reclaim(q.id)
	q.txMu.Unlock()
	q.p.kickStarved()
}

// process runs the handler on a batch and carries out its verdicts.
func (q *queue) process(descs []RxDesc) {
	p := q.p
	pkts := q.pkts[:0]
	free := q.free[:0]
	var bad, noEOP uint64
	for _, d := range descs {
		if d.Errors != 0 || d.Flags != 0 {
			free = append(free, d.Buf)
			if d.Flags&RxIncomplete != 0 {
				noEOP++
			} else {
				bad++
			}
			continue
		}
		pkts = append(pkts, Packet{Data: p.bufs.Packet(d.Buf, int(d.Len)), Desc: d})
	}
	if bad > 0 {
		q.c.drops[DropRxError].Add(bad)
	}
	if noEOP > 0 {
		q.c.drops[DropNoEOP].Add(noEOP)
	}
	if len(pkts) > 0 {
		if q.runHandler(pkts) {
			q.c.processed.Add(uint64(len(pkts)))
			free = q.verdicts(pkts, free)
		} else {
			for _, pk := range pkts {
				free = append(free, pk.Desc.Buf)
			}
			q.c.drops[DropPanic].Add(uint64(len(pkts)))
		}
	}
	if len(free) > 0 {
		p.bufs.PutMany(free)
	}
	q.free = free[:0]
}

// runHandler calls the handler and recovers a panic; false means it panicked.
func (q *queue) runHandler(pkts []Packet) (ok bool) {
	p := q.p
	defer func() {
		if r := recover(); r != nil {
			ok = false
			n := p.pc.panics.Add(1)
			if n <= panicLogFirst || n%panicLogEvery == 0 {
				p.log.Error("packet handler panicked; batch dropped", zap.Any("panic", r), zap.Uint64("panics", n), zap.Int("batch", len(pkts)))
			}
		}
	}()
	p.handler.Handle(pkts)
	return true
}

// verdicts carries out the handler's verdicts. A Transmit or Forward verdict
// on an empty frame or one larger than a buffer is a handler bug: it is
// counted (TxInvalid) and its buffer freed, never handed to the NIC. A
// Transmit verdict on Data that is not the frame's own buffer (the handler
// built a new frame) copies Data into the buffer first.
func (q *queue) verdicts(pkts []Packet, free []uint32) []uint32 {
	p := q.p
	txq := q.txq[:0]
	fwdq := q.fwdq[:0]
	// SetForward waits for this read lock: once it returns, no bottom half
	// of p sends into the old forward port.
	p.fwdMu.RLock()
	defer p.fwdMu.RUnlock()
	fwd := p.fwd
	var invalid uint64
	for i := range pkts {
		pk := &pkts[i]
		switch pk.Verdict {
		case Transmit:
			n := len(pk.Data)
			if n == 0 || n > p.bufSize {
				invalid++
				free = append(free, pk.Desc.Buf)
				continue
			}
			if buf := p.bufs.Packet(pk.Desc.Buf, n); len(buf) < n {
				invalid++
				free = append(free, pk.Desc.Buf)
				continue
			} else if &buf[0] != &pk.Data[0] {
				copy(buf, pk.Data)
			}
			txq = append(txq, TxDesc{Buf: pk.Desc.Buf, Len: uint16(n)})
		case Forward:
			switch {
			case fwd == nil:
				q.c.txDropped.Add(1)
			case len(pk.Data) == 0 || len(pk.Data) > fwd.bufSize:
				invalid++
			default:
				if b, ok := fwd.bufs.Get(); ok {
					n := copy(fwd.bufs.Packet(b, len(pk.Data)), pk.Data)
					fwdq = append(fwdq, TxDesc{Buf: b, Len: uint16(n)})
				} else {
					q.c.txDropped.Add(1)
				}
			}
			free = append(free, pk.Desc.Buf)
		case Keep:
			// The handler owns the buffer until Port.Release.
		default:
			free = append(free, pk.Desc.Buf)
		}
	}
	if invalid > 0 {
		q.c.txInvalid.Add(invalid)
	}
	if len(txq) > 0 {
		free = q.transmit(q, txq, free)
	}
	if len(fwdq) > 0 {
		fwdFree := fwd.queues[q.id%len(fwd.queues)].transmit(q, fwdq, nil)
		if len(fwdFree) > 0 {
			fwd.bufs.PutMany(fwdFree)
		}
	}
	q.txq, q.fwdq = txq[:0], fwdq[:0]
	return free
}

// bufSize is the size of the packet buffers: what the NIC or the pool says
// (BufSizer), else DefaultBufSize.
func bufSize(nic NIC, bufs Buffers) int {
	for _, x := range []any{nic, bufs} {
		if b, ok := x.(BufSizer); ok && b.BufSize() > 0 {
			return min(b.BufSize(), 1<<16-1) // TxDesc.Len is 16 bits
		}
	}
	return DefaultBufSize
}

// loggerSetter is implemented by handlers that log (Capture, Chain): the
// port gives them its logger.
type loggerSetter interface {
	SetLogger(*zap.Logger)
}

// TxDoorbellBatch is how many frames a polling bottom half queues before the
// TX doorbell rings, and FlushAfterEmptyPolls how many polls in a row must
// find nothing before it rings for fewer (DPDK's tx_rs_thresh and an idle
// flush): a doorbell is a trap into QEMU or a PCIe round trip.
const (
	TxDoorbellBatch      = 32
	FlushAfterEmptyPolls = 4
)

// TxBatcher is a NIC that can defer its TX doorbell: after SetTxBatch(n),
// TxBurst writes the tail only once n frames wait, and FlushTx(q) writes it
// for whatever waits on queue q. The core batches only in the modes that
// poll (busy poll, adaptive), where it also flushes.
type TxBatcher interface {
	SetTxBatch(batch int)
	FlushTx(q int)
}

// batchTx turns on doorbell batching when the NIC offers it.
func (p *Port) batchTx() {
	if b, ok := p.nic.(TxBatcher); ok {
		b.SetTxBatch(TxDoorbellBatch)
		p.batcher = b
	}
}

// flushIdle rings queue q's TX doorbell once FlushAfterEmptyPolls polls in a
// row found nothing, so that fewer than TxDoorbellBatch frames never wait
// long. Bottom half only.
func (q *queue) flushIdle(n int) {
	if n > 0 {
		q.emptyPolls = 0
		return
	}
	// Adaptive mode may re-arm interrupts and sleep after its next empty
	// polls: nothing may wait for the doorbell then.
	if q.emptyPolls++; q.emptyPolls >= FlushAfterEmptyPolls || q.p.cfg.Mode == deferral.ModeAdaptive {
		q.txMu.Lock()
		q.p.batcher.FlushTx(q.id)
		q.txMu.Unlock()
	}
}
