package drivertest

import (
	"errors"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// Wire is the far end of a NIC's cable, as the conformance kit drives it.
type Wire interface {
	// Send puts a frame on the wire towards the NIC. An error means the
	// NIC could not take it (no buffer posted); a wire that cannot know
	// (a real one) returns nil and the frame may be lost.
	Send(frame []byte) error
	// Collect returns the frames the NIC transmitted since the last call,
	// in the order they left, waiting until at least want have arrived or
	// timeout has passed.
	Collect(want int, timeout time.Duration) [][]byte
}

// ModelWire is the Wire of a fake register file (e1000test, igbtest):
// Receive plays the NIC receiving a frame (false: no buffer was posted),
// Transmit the NIC sending what its TX rings hold.
type ModelWire struct {
	Receive  func(frame []byte) bool
	Transmit func() [][]byte
}

func (w ModelWire) Send(f []byte) error {
	if !w.Receive(f) {
		return ErrNoBuffer
	}
	return nil
}

func (w ModelWire) Collect(int, time.Duration) [][]byte { return w.Transmit() }

// Wire is the fake's own cable.
func (f *Fake) Wire() Wire { return fakeWire{f} }

type fakeWire struct{ f *Fake }

var errClosed = errors.New("drivertest: fake NIC closed")

// Send plays the NIC receiving a frame: the queue its flow hashes to takes
// the oldest posted buffer, and the queue's vector fires.
func (w fakeWire) Send(frame []byte) error {
	f := w.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errClosed
	}
	q := f.rss.Queue(frame)
	if f.bugs&BugSplitFlows != 0 {
		q = f.rr / 5 % len(f.queues) // uncorrelated with the kit's flow numbering
		f.rr++
	}
	f.nrecv++
	copies := 1
	if f.bugs&BugDuplicate != 0 && f.nrecv%7 == 0 {
		copies = 2
	}
	for i := 0; i < copies; i++ {
		b, ok := f.queues[q].posted.pop()
		if !ok {
			f.stats.RxNoBuffer++
			return ErrNoBuffer
		}
		n := min(len(frame), driver.BufSize)
		p := f.bufs.Packet(b, n)
		copy(p, frame)
		if f.bugs&BugCorrupt != 0 && f.nrecv%5 == 0 && n > 20 {
			p[n-1] ^= 0xff
		}
		f.queues[q].done.push(driver.RxDesc{Buf: b, Len: uint16(n)})
		f.stats.RxPackets++
		f.stats.RxBytes += uint64(n)
	}
	if q < len(f.vecs) {
		f.raise(f.info.QueueVector[q], driver.CauseRX)
	}
	return nil
}

// Collect plays the NIC transmitting everything queued, queue by queue.
func (w fakeWire) Collect(want int, timeout time.Duration) [][]byte {
	f := w.f
	f.mu.Lock()
	defer f.mu.Unlock()
	for q := range f.queues {
		qu := &f.queues[q]
		first := len(f.sent)
		for ; qu.told > 0; qu.told-- {
			d, _ := qu.tx.pop()
			f.sent = append(f.sent, append([]byte(nil), f.bufs.Packet(d.Buf, int(d.Len))...))
			qu.txDone.push(d.Buf)
			f.stats.TxPackets++
			f.stats.TxBytes += uint64(d.Len)
		}
		if f.bugs&BugReorderTx != 0 {
			for i := first; i+1 < len(f.sent); i += 2 {
				f.sent[i], f.sent[i+1] = f.sent[i+1], f.sent[i]
			}
		}
		if len(f.sent) > first && q < len(f.vecs) {
			f.raise(f.info.QueueVector[q], driver.CauseTX)
		}
	}
	out := f.sent
	f.sent = nil
	return out
}
