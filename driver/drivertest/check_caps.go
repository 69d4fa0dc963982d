package drivertest

import (
	"fmt"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// The optional capabilities a NIC may claim (driver.Resetter,
// driver.TxBatcher) are checked when it claims them: a claim the driver does
// not keep is worse than none, because the core relies on it.

// checkReset: a driver.Resetter's Reinit really resets. A frame the NIC
// received (its own counter says so) and nobody harvested is gone after
// Reinit, its buffer back with the driver; the NIC then receives and
// transmits again; and CheckHang finds the working NIC not hung.
func checkReset(h *Harness) error {
	r, ok := h.NIC.(driver.Resetter)
	if !ok {
		return fmt.Errorf("%w: no driver.Resetter", errSkip)
	}
	info := h.NIC.Info()
	fillAll(h)
	// A frame that crossed proves RX works (QEMU's e1000 ignores RX for
	// a second after init), so that the next one lands in a ring.
	if _, err := roundTrip(h, tag{flow: 0, seq: 0, id: 1}); err != nil {
		return fmt.Errorf("before Reinit: %w", err)
	}
	var st driver.NICStats
	h.NIC.ReadStats(&st)
	if err := h.Wire.Send(buildFrame(info.MAC, tag{flow: 0, seq: 1, id: 2})); err != nil {
		return fmt.Errorf("send a frame to leave in the ring: %w", err)
	}
	for deadline := time.Now().Add(h.timeout()); st.RxPackets == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the NIC never counted the frame to leave in its ring")
		}
		h.NIC.ReadStats(&st)
	}
	if err := r.Reinit(); err != nil {
		return fmt.Errorf("Reinit: %w", err)
	}
	var descs [32]driver.RxDesc
	for q := 0; q < info.Queues; q++ {
		if n := h.NIC.RxBurst(q, descs[:]); n != 0 {
			free := make([]uint32, n)
			for i, d := range descs[:n] {
				free[i] = d.Buf
			}
			h.Buffers.PutMany(free)
			return fmt.Errorf("queue %d: RxBurst returned %d frames received before Reinit: it did not reset the rings", q, n)
		}
	}
	fillAll(h)
	if _, err := roundTrip(h, tag{flow: 0, seq: 2, id: 3}); err != nil {
		return fmt.Errorf("after Reinit: %w", err)
	}
	base := h.Buffers.Available()
	d, err := queueFrame(h, tag{flow: 0, seq: 0, id: 4})
	if err != nil {
		return err
	}
	if h.NIC.TxBurst(0, []driver.TxDesc{d}) != 1 {
		h.Buffers.PutMany([]uint32{d.Buf})
		return fmt.Errorf("after Reinit TxBurst took no frame")
	}
	if got := h.Wire.Collect(1, h.timeout()); len(got) != 1 {
		return fmt.Errorf("after Reinit the wire saw %d of 1 transmitted frame", len(got))
	}
	if err := reclaimAll(h, base); err != nil {
		return fmt.Errorf("after Reinit: %w", err)
	}
	if why, hung := r.CheckHang(time.Now(), time.Hour); hung {
		return fmt.Errorf("CheckHang calls a working NIC hung: %s", why)
	}
	return nil
}

// roundTrip sends kit frames g until one comes out of some queue (a real
// NIC may drop the first ones), gives its buffer back and refills.
func roundTrip(h *Harness, g tag) (int, error) {
	info := h.NIC.Info()
	var descs [32]driver.RxDesc
	deadline := time.Now().Add(h.timeout() + 1500*time.Millisecond)
	for next := time.Now(); ; time.Sleep(100 * time.Microsecond) {
		if time.Now().After(next) {
			_ = h.Wire.Send(buildFrame(info.MAC, g))
			next = time.Now().Add(200 * time.Millisecond)
		}
		for q := 0; q < info.Queues; q++ {
			n := h.NIC.RxBurst(q, descs[:])
			if n == 0 {
				continue
			}
			free := make([]uint32, n)
			for i, d := range descs[:n] {
				free[i] = d.Buf
			}
			h.Buffers.PutMany(free)
			h.NIC.Refill(q)
			return q, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no frame received within %v", h.timeout())
		}
	}
}

// checkTxBatch: a driver.TxBatcher defers the doorbell and keeps no frame
// back for good: with SetTxBatch(8) a few frames per queue all leave, in
// order, once FlushTx rings; with SetTxBatch(0) a burst leaves without
// FlushTx; every buffer comes back.
func checkTxBatch(h *Harness) error {
	b, ok := h.NIC.(driver.TxBatcher)
	if !ok {
		return fmt.Errorf("%w: no driver.TxBatcher", errSkip)
	}
	queues := h.NIC.Info().Queues
	base := h.Buffers.Available()
	t := newTxTally(queues)
	seq := make([]uint32, queues)
	id := 0
	burst := func(q, n int) error {
		var batch [txBatch]driver.TxDesc
		for i := 0; i < n; i++ {
			var err error
			if batch[i], err = queueFrame(h, tag{flow: uint16(q), seq: seq[q], id: uint32(id)}); err != nil {
				return err
			}
			seq[q]++
			id++
		}
		if k := h.NIC.TxBurst(q, batch[:n]); k != n {
			return fmt.Errorf("queue %d: TxBurst took %d of %d frames on an empty ring", q, k, n)
		}
		return nil
	}
	b.SetTxBatch(8)
	for q := 0; q < queues; q++ {
		if err := burst(q, 3); err != nil {
			return err
		}
		b.FlushTx(q)
	}
	for want := 3 * queues; t.got < want; {
		got := h.Wire.Collect(want-t.got, h.timeout())
		if len(got) == 0 {
			return fmt.Errorf("with SetTxBatch(8) the wire saw %d of %d frames after FlushTx", t.got, want)
		}
		if err := t.record(got); err != nil {
			return err
		}
	}
	b.SetTxBatch(0)
	for q := 0; q < queues; q++ {
		if err := burst(q, 1); err != nil {
			return err
		}
	}
	for want := 4 * queues; t.got < want; {
		got := h.Wire.Collect(want-t.got, h.timeout())
		if len(got) == 0 {
			return fmt.Errorf("after SetTxBatch(0) the wire saw %d of %d frames without FlushTx", t.got-3*queues, queues)
		}
		if err := t.record(got); err != nil {
			return err
		}
	}
	return reclaimAll(h, base)
}
