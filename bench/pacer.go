package bench

import (
	"math"
	"time"
)

// Pacer spreads frames evenly in time: Due says how many of them should have
// been sent by now. The sender sends up to Due, then sleeps a tick; frames go
// out in small bursts of at most rate×tick (plus what a late wake-up
// accumulated), never ahead of the schedule.
type Pacer struct {
	start time.Time
	rate  float64 // frames per second
}

// NewPacer starts a schedule of rate frames per second at start.
func NewPacer(start time.Time, rate float64) *Pacer { return &Pacer{start: start, rate: rate} }

// Due is how many frames the schedule has released by now.
func (p *Pacer) Due(now time.Time) int {
	d := now.Sub(p.start)
	if d <= 0 {
		return 0
	}
	// The epsilon absorbs float rounding so that Due(Next(n)) >= n.
	return int(math.Floor(float64(d)*p.rate/float64(time.Second) + 1e-6))
}

// Next is when frame n (counting from 0) is due.
func (p *Pacer) Next(n int) time.Time {
	return p.start.Add(time.Duration(math.Ceil(float64(n) * float64(time.Second) / p.rate)))
}
