package qemu

import (
	"bytes"
	"fmt"
	"time"
)

// ExchangeFlows sends n frames of f through p, perFlow consecutive frames of
// a flow at a time (flow (i/perFlow) mod f.N()), with at most window
// unanswered, and checks every frame that comes back from a reflector that
// swaps the MAC addresses: intact byte for byte, once, and in its flow's
// order. It returns the first violation, or one for frames that never came
// back (each wait is at most 10 s).
func (p *Peer) ExchangeFlows(f *Flows, n, perFlow, window int) error {
	order := NewFlowOrder(f.N())
	seen := make([]map[uint32]bool, f.N())
	for i := range seen {
		seen[i] = map[uint32]bool{}
	}
	sbuf := make([]byte, 2048)
	rbuf := make([]byte, 4096)
	ref := make([]byte, 2048)
	sent, got := 0, 0
	for got < n {
		for sent < n && sent-got < window {
			if _, err := p.SendFlow(f, sent/perFlow%f.N(), sbuf); err != nil {
				return err
			}
			sent++
		}
		k, err := p.RecvInto(rbuf, time.Now().Add(10*time.Second))
		if err != nil {
			return fmt.Errorf("after %d sent, %d reflected: %w", sent, got, err)
		}
		fr := rbuf[:k]
		fl, seq, err := ParseFlowFrame(fr)
		if err != nil {
			return fmt.Errorf("reflected frame %d (%d bytes): %w: % x", got, k, err, fr[:min(k, 48)])
		}
		want := f.Frame(ref, fl, seq)
		if !bytes.Equal(fr[0:6], want[6:12]) || !bytes.Equal(fr[6:12], want[0:6]) || !bytes.Equal(fr[12:], want[12:]) {
			return fmt.Errorf("flow %d frame %d differs from what was sent (MACs swapped): got % x", fl, seq, fr[:min(k, 48)])
		}
		if seen[fl][seq] {
			return fmt.Errorf("flow %d frame %d reflected twice", fl, seq)
		}
		seen[fl][seq] = true
		if !order.Observe(fl, seq) {
			return fmt.Errorf("flow %d frame %d reflected out of order", fl, seq)
		}
		got++
	}
	if m := order.Missing(f); m != 0 || order.Reordered != 0 {
		return fmt.Errorf("%d frames missing, %d reordered", m, order.Reordered)
	}
	return nil
}
