package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/qemu"
)

// hostMAC is the source address the host peer uses.
var hostMAC = [6]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}

// Link is the host's end of one target: the QEMU peer socket and the NIC's MAC.
type Link struct {
	Peer *qemu.Peer
	// MAC is the guest NIC's address. Frames are sent to DstMAC, not to
	// it (proto.go: the guest kernel's IPv4 stack then drops them at once);
	// the target runs promiscuous.
	MAC [6]byte
	// Flows, when above 1, sends the frames over this many flows in turn,
	// so that RSS spreads them over the NIC's queues; 0 or 1 sends every
	// frame on flow 0.
	Flows int
	next  int // the next flow
	// ToNIC sends the frames to MAC instead of DstMAC: for the kernel's UDP
	// responders, whose frames the guest's IPv4 stack must take in.
	ToNIC bool

	buf   []byte // receive buffer
	frame []byte // send buffer
}

// NewLink wraps a peer; mac is the guest NIC's address.
func NewLink(p *qemu.Peer, mac net.HardwareAddr) *Link {
	l := &Link{Peer: p, buf: make([]byte, 4096), frame: make([]byte, 2048)}
	copy(l.MAC[:], mac)
	return l
}

func (l *Link) send(op byte, seq uint64) error {
	flow := 0
	if l.Flows > 1 {
		flow = l.next
		l.next = (l.next + 1) % l.Flows
	}
	dst := DstMAC
	if l.ToNIC {
		dst = l.MAC
	}
	return l.Peer.Send(BuildFlowFrame(l.frame, dst, hostMAC, op, seq, flow))
}

// recv returns the next protocol frame from the NIC until deadline.
func (l *Link) recv(deadline time.Time) (op byte, seq uint64, f []byte, err error) {
	for {
		n, err := l.Peer.RecvInto(l.buf, deadline)
		if err != nil {
			return 0, 0, nil, err
		}
		if op, seq, ok := ParseFrame(l.buf[:n]); ok {
			return op, seq, l.buf[:n], nil
		}
	}
}

// Drain discards whatever the NIC sent that nobody read (late reflections).
func (l *Link) Drain(d time.Duration) {
	for {
		if _, err := l.Peer.RecvInto(l.buf, time.Now().Add(d)); err != nil {
			return
		}
	}
}

// query sends op (OpQuery or OpDone) and waits for its reply, resending every
// 500 ms (a query can be lost in an overflowing QEMU socket like any frame)
// until timeout.
func (l *Link) query(op byte, timeout time.Duration) (Counters, error) {
	return l.queryWith(op, 0, timeout)
}

// Mark sends the query of a phase mark (MarkSeq) and waits for its reply.
func (l *Link) Mark(rep int, end bool, timeout time.Duration) (Counters, error) {
	return l.queryWith(OpQuery, MarkSeq(rep, end), timeout)
}

// ProfileMark sends the query that starts (on) or stops the guest's CPU
// profile (ProfileSeq) and waits for its reply.
func (l *Link) ProfileMark(on bool, timeout time.Duration) (Counters, error) {
	return l.queryWith(OpQuery, ProfileSeq(on), timeout)
}

// queryWith is query with the sequence number seq (0: a random one per try).
func (l *Link) queryWith(op byte, fixed uint64, timeout time.Duration) (Counters, error) {
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		seq := fixed
		if seq == 0 {
			seq = rand.Uint64()
		}
		if err := l.send(op, seq); err != nil {
			return Counters{}, err
		}
		try := time.Now().Add(500 * time.Millisecond)
		for {
			rop, rseq, f, err := l.recv(try)
			if err != nil {
				break
			}
			if rop == op && rseq == seq {
				return ParseCounters(f), nil
			}
		}
	}
	return Counters{}, fmt.Errorf("no reply to %c in %v", op, timeout)
}

// Query returns the target's counters.
func (l *Link) Query(timeout time.Duration) (Counters, error) { return l.query(OpQuery, timeout) }

// Done tells the target the host is finished with it.
func (l *Link) Done(timeout time.Duration) (Counters, error) { return l.query(OpDone, timeout) }

// RoundTrips sends n reflect frames one at a time and records each round
// trip in h (ns) and, when samples is not nil, appends it there.
func (l *Link) RoundTrips(n int, h *deferral.Histogram, samples *[]time.Duration) (lost int, err error) {
	for i := range n {
		seq := uint64(i) | 1<<62
		t0 := time.Now()
		if err := l.send(OpReflect, seq); err != nil {
			return lost, err
		}
		for {
			op, rseq, _, err := l.recv(t0.Add(time.Second))
			if err != nil {
				lost++
				if lost > n/10+5 {
					return lost, fmt.Errorf("round trips: %d of %d lost", lost, i+1)
				}
				break
			}
			if op == OpReflect && rseq == seq {
				d := time.Since(t0)
				h.RecordDuration(d)
				if samples != nil {
					*samples = append(*samples, d)
				}
				break
			}
		}
	}
	return lost, nil
}

// Throughput reflects n frames keeping at most window unanswered and returns
// the rate of reflected frames. A frame not back within a second is counted
// lost and its window slot reused.
func (l *Link) Throughput(n, window int) (fps float64, lost int, err error) {
	sent, got := 0, 0
	start := time.Now()
	for got+lost < n {
		for sent < n && sent-got-lost < window {
			if err := l.send(OpReflect, uint64(sent)|2<<62); err != nil {
				return 0, lost, err
			}
			sent++
		}
		op, _, _, err := l.recv(time.Now().Add(time.Second))
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return 0, lost, err
			}
			lost += sent - got - lost // everything outstanding
			if lost > n/10 {
				return 0, lost, fmt.Errorf("throughput: %d of %d lost", lost, sent)
			}
			continue
		}
		if op == OpReflect {
			got++
		}
	}
	return float64(got) / time.Since(start).Seconds(), lost, nil
}

// Paced sends n count frames at rate frames/s and returns when the last one
// is sent and how long sending took.
func (l *Link) Paced(n int, rate float64) (time.Duration, error) {
	start := time.Now()
	p := NewPacer(start, rate)
	for sent := 0; sent < n; {
		due := min(p.Due(time.Now()), n)
		for ; sent < due; sent++ {
			if err := l.send(OpCount, uint64(sent)); err != nil {
				return 0, err
			}
		}
		if sent < n {
			if w := time.Until(p.Next(sent)); w > 0 {
				time.Sleep(w)
			}
		}
	}
	return time.Since(start), nil
}

// RateStep is one rung of the RX-rate ladder.
type RateStep struct {
	Rate     float64 // offered, frames/s
	Achieved float64 // what the host actually sent, frames/s
	Sent     uint64
	Counted  uint64 // frames the target counted
}

// Lossless reports whether every frame arrived.
func (s RateStep) Lossless() bool { return s.Counted >= s.Sent }

// RateLadder offers count frames at each rate for step, stopping after the
// first lossy rung (confirmed by a second try). It returns every rung run.
func (l *Link) RateLadder(rates []float64, step time.Duration) ([]RateStep, error) {
	var out []RateStep
	for _, r := range rates {
		var s RateStep
		for try := 0; try < 2; try++ {
			c0, err := l.Query(5 * time.Second)
			if err != nil {
				return out, err
			}
			n := max(int(r*step.Seconds()), 200)
			d, err := l.Paced(n, r)
			if err != nil {
				return out, err
			}
			time.Sleep(100 * time.Millisecond) // the backlog drains
			c1, err := l.Query(5 * time.Second)
			if err != nil {
				return out, err
			}
			s = RateStep{Rate: r, Achieved: float64(n) / d.Seconds(), Sent: uint64(n), Counted: c1.Count - c0.Count}
			if s.Lossless() {
				break
			}
		}
		out = append(out, s)
		if !s.Lossless() {
			break
		}
	}
	return out, nil
}

// MaxLossless is the highest rate of a ladder carried without loss (0: none).
func MaxLossless(steps []RateStep) float64 {
	best := 0.0
	for _, s := range steps {
		if s.Lossless() && s.Rate > best {
			best = s.Rate
		}
	}
	return best
}

// CPULoad offers count frames at rate (0: none) for d and returns the guest's busy
// CPU, in cores (vCPUs) averaged over the interval, from /proc/stat, and
// what the guest counted.
func (l *Link) CPULoad(rate float64, d time.Duration, vcpus int) (cores float64, counted uint64, err error) {
	c0, err := l.Query(5 * time.Second)
	if err != nil {
		return 0, 0, err
	}
	if rate <= 0 {
		time.Sleep(d)
	} else if _, err := l.Paced(int(rate*d.Seconds()), rate); err != nil {
		return 0, 0, err
	}
	c1, err := l.Query(5 * time.Second)
	if err != nil {
		return 0, 0, err
	}
	if c1.Total <= c0.Total {
		return 0, 0, errors.New("guest /proc/stat did not advance")
	}
	return float64(c1.Busy-c0.Busy) / float64(c1.Total-c0.Total) * float64(vcpus), c1.Count - c0.Count, nil
}

// Flood sends frames at rate until stop is closed; a rate of 0 or less
// sends as fast as the host can (an unpaced flood).
func (l *Link) Flood(rate float64, stop <-chan struct{}) (sent int, err error) {
	if rate <= 0 {
		for {
			select {
			case <-stop:
				return sent, nil
			default:
			}
			for i := 0; i < 64; i++ {
				if err := l.send(OpCount, uint64(sent)); err != nil {
					return sent, err
				}
				sent++
			}
		}
	}
	p := NewPacer(time.Now(), rate)
	for {
		select {
		case <-stop:
			return sent, nil
		default:
		}
		due := p.Due(time.Now())
		for ; sent < due; sent++ {
			if err := l.send(OpCount, uint64(sent)); err != nil {
				return sent, err
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
}
