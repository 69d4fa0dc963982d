package driver

import (
	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/deferral"
)

func (p *Port) noteHandoff() {
	if t := p.scheduledAt.Swap(0); t != 0 {
		p.histMu.Lock()
		p.hist.Record(monoNow() - t)
		p.histMu.Unlock()
	}
}

// pollRing is the bottom half of the ring-based modes.
func (p *Port) pollRing(budget int) int {
	p.noteHandoff()
	p.c.bhRuns.Add(1)
	if budget > len(p.descs) {
		budget = len(p.descs)
	}
	n := p.rx.DequeueBurst(p.descs[:budget])
	if n > 0 {
		p.process(p.descs[:n])
	}
	p.reclaim()
	return n
}

// pollDevice is the NAPI and busy-poll bottom half: it harvests the NIC itself.
func (p *Port) pollDevice(budget int) int {
	p.noteHandoff()
	p.c.bhRuns.Add(1)
	if budget > len(p.descs) {
		budget = len(p.descs)
	}
	n := p.dev.RxBurst(p.descs[:budget])
	if n > 0 {
		var bytes uint64
		for _, d := range p.descs[:n] {
			bytes += uint64(d.Len)
		}
		p.c.rxPackets.Add(uint64(n))
		p.c.rxBytes.Add(bytes)
		p.process(p.descs[:n])
		// Refill after processing, when the batch's buffers are back in
		// the pool (as e1000_clean_rx_irq allocates after cleaning).
		p.dev.RefillRx()
	}
	p.reclaim()
	if p.txFlush != nil {
		p.flushIdle(n)
	}
	return n
}

// TxDoorbellBatch is how many frames busy poll queues before it rings the TX
// doorbell, and FlushAfterEmptyPolls how many polls in a row must find
// nothing before it rings it for fewer (DPDK's tx_rs_thresh and an idle
// flush): a doorbell is a trap into QEMU or a PCIe round trip.
const (
	TxDoorbellBatch      = 32
	FlushAfterEmptyPolls = 4
)

// txBatcher is a Device that can defer its TX doorbell (e1000.Device).
type txBatcher interface {
	SetTxBatch(batch int)
	FlushTx()
}

// batchTx turns on doorbell batching when the device offers it (busy poll).
func (p *Port) batchTx() {
	if b, ok := p.dev.(txBatcher); ok {
		b.SetTxBatch(TxDoorbellBatch)
		p.txFlush = func() {
			p.txMu.Lock()
			b.FlushTx()
			p.txMu.Unlock()
		}
	}
}

// flushIdle rings the TX doorbell once FlushAfterEmptyPolls polls in a row
// found nothing, so that fewer than TxDoorbellBatch frames never wait long.
func (p *Port) flushIdle(n int) {
	if n > 0 {
		p.emptyPolls = 0
		return
	}
	// Adaptive mode may re-arm interrupts and sleep after its next empty
	// polls: nothing may wait for the doorbell then.
	if p.emptyPolls++; p.emptyPolls >= FlushAfterEmptyPolls || p.cfg.Mode == deferral.ModeAdaptive {
		p.txFlush()
	}
}

// reclaim frees the buffers of transmitted frames and, if the top half found
// the pool empty, kicks the NIC now that buffers are back: buffers return
// both through process (consumed frames) and here (transmitted ones).
func (p *Port) reclaim() {
	p.txMu.Lock()
	p.dev.ReclaimTx()
	p.txMu.Unlock()
	if p.starved.Load() && p.dev.FreeBuffers() > 0 && p.starved.CompareAndSwap(true, false) {
		p.dev.Kick()
	}
}

// process runs the handler on a batch and carries out its verdicts.
func (p *Port) process(descs []RxDesc) {
	pkts := p.pkts[:0]
	free := p.free[:0]
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
		pkts = append(pkts, Packet{Data: p.dev.Packet(d.Buf, int(d.Len)), Desc: d})
	}
	if bad > 0 {
		p.c.drops[DropRxError].Add(bad)
	}
	if noEOP > 0 {
		p.c.drops[DropNoEOP].Add(noEOP)
	}
	if len(pkts) > 0 {
		if p.runHandler(pkts) {
			p.c.processed.Add(uint64(len(pkts)))
			free = p.verdicts(pkts, free)
		} else {
			for _, pk := range pkts {
				free = append(free, pk.Desc.Buf)
			}
			p.c.drops[DropPanic].Add(uint64(len(pkts)))
		}
	}
	if len(free) > 0 {
		p.dev.FreeBufs(free)
	}
	p.free = free[:0]
}

// runHandler calls the handler and recovers a panic; false means it panicked.
func (p *Port) runHandler(pkts []Packet) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			n := p.c.panics.Add(1)
			// Rate-limited: the first ten, then every thousandth.
			if n <= 10 || n%1000 == 0 {
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
func (p *Port) verdicts(pkts []Packet, free []uint32) []uint32 {
	txq := p.txq[:0]
	fwdq := p.fwdq[:0]
	fwd := p.cfg.Forward
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
			if buf := p.dev.Packet(pk.Desc.Buf, n); len(buf) < n {
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
				p.c.txDropped.Add(1)
			case len(pk.Data) == 0 || len(pk.Data) > fwd.bufSize:
				invalid++
			default:
				if b, ok := fwd.dev.AllocBuf(); ok {
					n := copy(fwd.dev.Packet(b, len(pk.Data)), pk.Data)
					fwdq = append(fwdq, TxDesc{Buf: b, Len: uint16(n)})
				} else {
					p.c.txDropped.Add(1)
				}
			}
			free = append(free, pk.Desc.Buf)
		default:
			free = append(free, pk.Desc.Buf)
		}
	}
	if invalid > 0 {
		p.c.txInvalid.Add(invalid)
	}
	if len(txq) > 0 {
		free = p.transmit(p, txq, free, true)
	}
	if len(fwdq) > 0 {
		fwdFree := fwd.transmit(p, fwdq, nil, false)
		if len(fwdFree) > 0 {
			fwd.dev.FreeBufs(fwdFree)
		}
	}
	p.txq, p.fwdq = txq[:0], fwdq[:0]
	return free
}

// bufSize is the size of dev's packet buffers.
func bufSize(dev Device) int {
	if b, ok := dev.(BufSizer); ok && b.BufSize() > 0 {
		return min(b.BufSize(), 1<<16-1) // TxDesc.Len is 16 bits
	}
	return DefaultBufSize
}

// loggerSetter is implemented by handlers that log (Capture, Chain): the
// port gives them its logger.
type loggerSetter interface {
	SetLogger(*zap.Logger)
}
