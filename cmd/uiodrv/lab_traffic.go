package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/internal/testframe"
	"github.com/uiodrv/uiodrv/qemu"
)

// The host side of the lab's traffic: test frames sent at a rate through
// the peer, each reflection checked byte for byte and timed.

// traffic sends numbered, timestamped frames through a peer and checks
// the reflections: MACs swapped, every other byte as sent.
type traffic struct {
	peer  *qemu.Peer
	size  int
	start time.Time

	sent, recv, intact, corrupt, dup atomic.Uint64
	mu                               sync.Mutex
	rtt, win                         deferral.Histogram // all, and since the last report
	seen                             map[uint32]bool
}

// labFlows is how many flows (5-tuples) the lab's frames cycle through.
const labFlows = 64

func newTraffic(p *qemu.Peer, size int) *traffic {
	return &traffic{peer: p, size: size, start: time.Now(), seen: map[uint32]bool{}}
}

// spec is frame seq as sent at ts (ns since start): a test frame
// (internal/testframe) from the host peer to the guest NIC.
func (t *traffic) spec(seq uint32, ts int64) testframe.Frame {
	return testframe.Frame{Dst: labMAC, Src: labPeerMAC, Flow: int(seq % labFlows), Seq: uint64(seq), Stamp: ts, Len: t.size}
}

// frame builds frame seq, sent at ts (ns since start), into buf.
func (t *traffic) frame(buf []byte, seq uint32, ts int64) []byte {
	return testframe.Build(buf, t.spec(seq, ts))
}

// check verifies a reflected frame and records its round trip.
func (t *traffic) check(f []byte, now time.Time) {
	t.recv.Add(1)
	fr, ok, err := testframe.Check(f)
	seq := uint32(fr.Seq)
	want := t.spec(seq, fr.Stamp)
	want.Dst, want.Src = labPeerMAC, labMAC // reflected
	if !ok || err != nil || fr != want || uint64(seq) >= t.sent.Load() {
		t.corrupt.Add(1)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen[seq] {
		t.dup.Add(1)
		return
	}
	t.seen[seq] = true
	t.intact.Add(1)
	d := now.Sub(t.start).Nanoseconds() - fr.Stamp
	t.rtt.Record(d)
	t.win.Record(d)
}

// run sends at rate for d, receiving concurrently, reports once a second,
// then waits up to 2 s for the last reflections.
func (t *traffic) run(ctx context.Context, rate int, d time.Duration, report func(string)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, err := t.peer.RecvInto(buf, time.Now().Add(100*time.Millisecond))
			if err == nil {
				t.check(buf[:n], time.Now())
				continue
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	buf := make([]byte, 2048)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sec := time.NewTicker(time.Second)
	defer sec.Stop()
	begin := time.Now()
	var lastSent, lastRecv uint64
	line := func() {
		s, r := t.sent.Load(), t.intact.Load()
		t.mu.Lock()
		p50, p99 := time.Duration(t.win.Quantile(0.5)), time.Duration(t.win.Quantile(0.99))
		t.win.Reset()
		t.mu.Unlock()
		report(fmt.Sprintf("sent %7d (%5d/s)  back intact %7d (%5d/s)  rtt p50 %v p99 %v",
			s, s-lastSent, r, r-lastRecv, roundDur(p50), roundDur(p99)))
		lastSent, lastRecv = s, r
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-sec.C:
			line()
		case now := <-tick.C:
			el := now.Sub(begin)
			if el >= d {
				break loop
			}
			due := uint64(el.Seconds() * float64(rate))
			for t.sent.Load() < due {
				seq := t.sent.Load()
				ts := time.Since(t.start).Nanoseconds()
				t.sent.Add(1) // before Send: check() rejects seq >= sent
				if err := t.peer.Send(t.frame(buf, uint32(seq), ts)); err != nil {
					t.sent.Add(^uint64(0))
					break
				}
			}
		}
	}
	// Top up to exactly rate*d frames, whatever the ticker's granularity.
	for total := uint64(d.Seconds() * float64(rate)); ctx.Err() == nil && t.sent.Load() < total; {
		seq := t.sent.Load()
		t.sent.Add(1)
		if err := t.peer.Send(t.frame(buf, uint32(seq), time.Since(t.start).Nanoseconds())); err != nil {
			t.sent.Add(^uint64(0))
			break
		}
	}
	drain := time.Now().Add(2 * time.Second)
	for t.intact.Load()+t.corrupt.Load() < t.sent.Load() && time.Now().Before(drain) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	line()
	close(done)
	wg.Wait()
}

func (t *traffic) summary(w io.Writer) {
	s, in := t.sent.Load(), t.intact.Load()
	lost := int64(s) - int64(in)
	pct := 0.0
	if s > 0 {
		pct = 100 * float64(in) / float64(s)
	}
	fmt.Fprintf(w, "--- lab summary (host side)\n")
	fmt.Fprintf(w, "sent %d, received %d, reflected intact %d (%.2f%%), lost %d, altered %d, duplicated %d\n",
		s, t.recv.Load(), in, pct, lost, t.corrupt.Load(), t.dup.Load())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rtt.Count() > 0 {
		fmt.Fprintf(w, "round trip p50 %v p99 %v max %v (host peer -> QEMU -> guest uiodrv -> QEMU -> host peer)\n",
			roundDur(time.Duration(t.rtt.Quantile(0.5))), roundDur(time.Duration(t.rtt.Quantile(0.99))), roundDur(time.Duration(t.rtt.Max())))
	}
}
