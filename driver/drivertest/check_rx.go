package drivertest

import (
	"errors"
	"fmt"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// The receive check sends rxFrames distinct frames over rxFlows flows, a few
// at a time so that no ring runs dry however the NIC spreads them.
const (
	rxFrames = 512
	rxFlows  = 64
	rxRound  = 3
)

// rxTally records what came off the queues.
type rxTally struct {
	seen      []bool  // by frame id
	lastSeq   []int64 // by flow
	flowQueue []int   // by flow: the queue it landed on, -1 before its first frame
	perQueue  []int
	got       int
	descs     [64]driver.RxDesc
	bufs      [64]uint32
}

func newRxTally(queues int) *rxTally {
	r := &rxTally{seen: make([]bool, rxFrames), lastSeq: make([]int64, rxFlows),
		flowQueue: make([]int, rxFlows), perQueue: make([]int, queues)}
	for i := range r.lastSeq {
		r.lastSeq[i], r.flowQueue[i] = -1, -1
	}
	return r
}

// harvest drains every queue once, checks each frame and gives its buffer
// back, then refills. It returns how many kit frames it found.
func (r *rxTally) harvest(h *Harness) (int, error) {
	info := h.NIC.Info()
	found := 0
	for q := 0; q < info.Queues; q++ {
		for {
			k := h.NIC.RxBurst(q, r.descs[:])
			if k == 0 {
				break
			}
			var err error
			for i, d := range r.descs[:k] {
				r.bufs[i] = d.Buf
				if err == nil {
					var ok bool
					ok, err = r.record(info, q, d, h.Buffers.Packet(d.Buf, int(d.Len)))
					if ok {
						found++
					}
				}
			}
			h.Buffers.PutMany(r.bufs[:k])
			if err != nil {
				return found, err
			}
		}
		h.NIC.Refill(q)
	}
	return found, nil
}

func (r *rxTally) record(info *driver.NICInfo, q int, d driver.RxDesc, f []byte) (bool, error) {
	t, ok, err := parseFrame(info.MAC, f)
	if !ok {
		return false, nil // not ours: the lab's own traffic
	}
	if err != nil {
		return true, fmt.Errorf("queue %d: %w", q, err)
	}
	if d.Errors != 0 {
		return true, fmt.Errorf("queue %d: intact frame id %d flagged with errors %#x", q, t.id, d.Errors)
	}
	if int(t.id) >= len(r.seen) || int(t.flow) >= len(r.lastSeq) {
		return true, fmt.Errorf("queue %d: frame id %d flow %d out of range", q, t.id, t.flow)
	}
	if r.seen[t.id] {
		return true, fmt.Errorf("queue %d: frame id %d received twice", q, t.id)
	}
	r.seen[t.id] = true
	if int64(t.seq) <= r.lastSeq[t.flow] {
		return true, fmt.Errorf("queue %d: flow %d reordered: seq %d after %d", q, t.flow, t.seq, r.lastSeq[t.flow])
	}
	r.lastSeq[t.flow] = int64(t.seq)
	if fq := r.flowQueue[t.flow]; fq >= 0 && fq != q {
		return true, fmt.Errorf("flow %d landed on queue %d and then on queue %d: RSS must keep a flow on one queue", t.flow, fq, q)
	}
	r.flowQueue[t.flow] = q
	r.perQueue[q]++
	r.got++
	return true, nil
}

// harvestUntil harvests until want kit frames in all have arrived.
func (r *rxTally) harvestUntil(h *Harness, want int) error {
	deadline := time.Now().Add(h.timeout())
	for r.got < want {
		n, err := r.harvest(h)
		if err != nil {
			return err
		}
		if n == 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("received %d of %d frames after %v", r.got, want, h.timeout())
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	return nil
}

func checkReceive(h *Harness) error {
	info := h.NIC.Info()
	fillAll(h)
	base := h.Buffers.Available()
	var st0 driver.NICStats
	h.NIC.ReadStats(&st0) // counters until now, so that the next read is this check's
	r := newRxTally(info.Queues)
	seq := make([]uint32, rxFlows)
	for id := 0; id < rxFrames; {
		round := min(rxRound, rxFrames-id)
		for i := 0; i < round; i++ {
			flow := uint16((id + i) % rxFlows)
			t := tag{flow: flow, seq: seq[flow], id: uint32(id + i)}
			seq[flow]++
			if err := h.Wire.Send(buildFrame(info.MAC, t)); err != nil {
				if errors.Is(err, ErrNoBuffer) {
					return fmt.Errorf("frame id %d found no RX buffer although every queue was refilled: %w", t.id, err)
				}
				return fmt.Errorf("send frame id %d: %w", t.id, err)
			}
		}
		id += round
		if err := r.harvestUntil(h, id); err != nil {
			return err
		}
	}
	if got := h.Buffers.Available(); got != base {
		return fmt.Errorf("after every frame was harvested, returned and the rings refilled, the pool holds %d buffers, want %d as before", got, base)
	}
	var st driver.NICStats
	h.NIC.ReadStats(&st)
	if st.RxPackets < rxFrames {
		return fmt.Errorf("NIC counted %d received frames, %d arrived", st.RxPackets, rxFrames)
	}
	if info.RSS {
		for q, n := range r.perQueue {
			if n == 0 {
				return fmt.Errorf("RSS over %d queues left queue %d without a frame of %d flows (%v)", info.Queues, q, rxFlows, r.perQueue)
			}
		}
	}
	return nil
}
