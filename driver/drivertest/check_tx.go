package drivertest

import (
	"fmt"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

const (
	txFrames = 300
	txBatch  = 16
)

// txTally records what the wire saw the NIC transmit. Kit frames carry their
// queue as the flow, so that order is checked per queue: queues drain in
// parallel on a real NIC.
type txTally struct {
	seen    []bool
	lastSeq []int64
	got     int
}

func newTxTally(queues int) *txTally {
	t := &txTally{seen: make([]bool, txFrames), lastSeq: make([]int64, queues)}
	for i := range t.lastSeq {
		t.lastSeq[i] = -1
	}
	return t
}

func (t *txTally) record(frames [][]byte) error {
	for _, f := range frames {
		g, ok, err := parseFrame(kitSrcMAC, f)
		if !ok {
			continue
		}
		if err != nil {
			return fmt.Errorf("transmitted %w", err)
		}
		g.flow &^= shortFlow
		if int(g.id) >= len(t.seen) || int(g.flow) >= len(t.lastSeq) {
			return fmt.Errorf("transmitted frame id %d queue %d out of range", g.id, g.flow)
		}
		if t.seen[g.id] {
			return fmt.Errorf("frame id %d transmitted twice", g.id)
		}
		t.seen[g.id] = true
		if int64(g.seq) <= t.lastSeq[g.flow] {
			return fmt.Errorf("queue %d transmitted seq %d after %d: a queue's frames must leave in order", g.flow, g.seq, t.lastSeq[g.flow])
		}
		t.lastSeq[g.flow] = int64(g.seq)
		t.got++
	}
	return nil
}

// queueFrame takes a buffer, writes the kit frame for g into it and returns
// its descriptor.
func queueFrame(h *Harness, g tag) (driver.TxDesc, error) {
	b, ok := h.Buffers.Get()
	if !ok {
		return driver.TxDesc{}, fmt.Errorf("buffer pool empty after %d frames", g.id)
	}
	f := putFrame(h.Buffers.Packet(b, frameLen(g)), kitSrcMAC, g)
	return driver.TxDesc{Buf: b, Len: uint16(len(f))}, nil
}

// reclaimAll reclaims every queue until the pool is back at want.
func reclaimAll(h *Harness, want int) error {
	deadline := time.Now().Add(h.timeout())
	for {
		for q := 0; q < h.NIC.Info().Queues; q++ {
			h.NIC.Reclaim(q)
		}
		got := h.Buffers.Available()
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after every frame left, Reclaim brought the pool back to %d buffers, want %d", got, want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func checkTransmit(h *Harness) error {
	queues := h.NIC.Info().Queues
	base := h.Buffers.Available()
	var st0 driver.NICStats
	h.NIC.ReadStats(&st0)
	t := newTxTally(queues)
	seq := make([]uint32, queues)
	var batch [txBatch]driver.TxDesc
	deadline := time.Now().Add(h.timeout() * 4)
	for id := 0; id < txFrames; {
		q := (id / txBatch) % queues
		n := min(txBatch, txFrames-id)
		for i := 0; i < n; i++ {
			var err error
			if batch[i], err = queueFrame(h, tag{flow: uint16(q), seq: seq[q], id: uint32(id + i)}); err != nil {
				return err
			}
			seq[q]++
		}
		for k := h.NIC.TxBurst(q, batch[:n]); k < n; k += h.NIC.TxBurst(q, batch[k:n]) {
			if time.Now().After(deadline) {
				return fmt.Errorf("queue %d took %d of %d frames and no more while the wire drained it", q, k, n)
			}
			if err := t.record(h.Wire.Collect(1, time.Millisecond)); err != nil {
				return err
			}
			h.NIC.Reclaim(q)
		}
		id += n
		// Wait for the batch on the wire before the next: a real wire's
		// buffers (the far NIC's ring, socket buffers) hold a few batches,
		// not the whole check.
		if err := t.record(h.Wire.Collect(id-t.got, h.timeout())); err != nil {
			return err
		}
	}
	for t.got < txFrames {
		if err := t.record(h.Wire.Collect(txFrames-t.got, h.timeout())); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the wire saw %d of %d transmitted frames", t.got, txFrames)
		}
	}
	if err := reclaimAll(h, base); err != nil {
		return err
	}
	var st driver.NICStats
	h.NIC.ReadStats(&st)
	if st.TxPackets < txFrames {
		return fmt.Errorf("NIC counted %d transmitted frames, the wire saw %d", st.TxPackets, txFrames)
	}
	return nil
}

// checkTxInvalid: a frame no buffer can hold, or an empty one, is refused
// (left to the caller), never a panic and never put on the wire.
func checkTxInvalid(h *Harness) (err error) {
	b, ok := h.Buffers.Get()
	if !ok {
		return fmt.Errorf("buffer pool empty")
	}
	defer h.Buffers.PutMany([]uint32{b})
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("TxBurst panicked on an invalid frame: %v", p)
		}
	}()
	for _, n := range []uint16{0, driver.BufSize + 1} {
		if k := h.NIC.TxBurst(0, []driver.TxDesc{{Buf: b, Len: n}}); k != 0 {
			return fmt.Errorf("TxBurst took a %d-byte frame (buffers hold %d)", n, driver.BufSize)
		}
	}
	if got := h.Wire.Collect(0, 10*time.Millisecond); len(got) != 0 {
		return fmt.Errorf("%d frames reached the wire after only invalid ones were offered", len(got))
	}
	return nil
}

// checkTxRingFull fills queue 0's TX ring without letting the wire drain it:
// TxBurst must stop taking frames, then give every buffer back once they left.
func checkTxRingFull(h *Harness) error {
	base := h.Buffers.Available()
	var st0 driver.NICStats
	h.NIC.ReadStats(&st0) // counters until now, so that the next read is this check's
	var batch [txBatch]driver.TxDesc
	queued, refused := 0, false
	for !refused && h.Buffers.Available() > txBatch {
		for i := range batch {
			var err error
			g := tag{flow: shortFlow, seq: uint32(queued + i), id: uint32((queued + i) % txFrames)}
			if batch[i], err = queueFrame(h, g); err != nil {
				return err
			}
		}
		k := h.NIC.TxBurst(0, batch[:])
		queued += k
		if k < txBatch {
			refused = true
			for _, d := range batch[k:] {
				h.Buffers.PutMany([]uint32{d.Buf})
			}
		}
	}
	if !refused {
		return errSkip // the ring holds more than the pool
	}
	got := 0
	deadline := time.Now().Add(h.timeout())
	for got < queued && time.Now().Before(deadline) {
		got += len(h.Wire.Collect(queued-got, h.timeout()))
	}
	if got != queued && !h.LossyWire {
		return fmt.Errorf("TX ring took %d frames, the wire saw %d", queued, got)
	}
	if err := reclaimAll(h, base); err != nil {
		return err
	}
	var st driver.NICStats
	h.NIC.ReadStats(&st)
	if st.TxPackets < uint64(queued) {
		return fmt.Errorf("TX ring took %d frames, the NIC counted %d transmitted (the wire saw %d)", queued, st.TxPackets, got)
	}
	return nil
}
