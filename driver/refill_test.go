package driver

import "testing"

// racyRefill is the fake device with a bottom half that frees buffers right
// after the top half's Refill found the pool empty: the window between
// Refill and the top half's look at the pool.
type racyRefill struct {
	*fakeDev
	refills  int
	free     []uint32 // what the "bottom half" gives back after the first Refill
	triggers int
}

func (r *racyRefill) Refill(q int) int {
	n := r.fakeDev.Refill(q)
	if r.refills++; r.refills == 1 {
		r.PutMany(r.free)
	}
	return n
}

func (r *racyRefill) Trigger(v int) { r.triggers++; r.fakeDev.Trigger(v) }

// TestRefillRacingFree: buffers that come back after the top half's Refill
// looked at an empty pool, from a bottom half that saw no starved flag,
// must still reach the NIC: the frames waiting on the wire land in them.
// Without the second look the ring stays empty and no interrupt ever
// comes (CI saw TestReflectEveryMode stall so: "wire stuck at 206").
func TestRefillRacingFree(t *testing.T) {
	d := newFakeDev(t, 4)
	var held []uint32
	for {
		b, ok := d.Get()
		if !ok {
			break
		}
		held = append(held, b)
	}
	d.rxq = [][]byte{frame(1, 60), frame(2, 60)}
	r := &racyRefill{fakeDev: d, free: held}
	p := &Port{nic: r, bufs: r}
	q := &queue{p: p, id: 0, vec: 0}
	q.refill()
	if got := len(d.pending); got != 2 {
		t.Fatalf("%d of 2 waiting frames landed after the buffers came back (Refill called %d times, %d triggers, starved %b)",
			got, r.refills, r.triggers, p.starved.Load())
	}
	if r.triggers != 0 {
		t.Errorf("%d self-triggers for one racing free, want 0", r.triggers)
	}
}

// TestRefillFullRing: with buffers to spare and nothing to post, refill
// looks twice and stops, raising nothing.
func TestRefillFullRing(t *testing.T) {
	d := newFakeDev(t, 4)
	r := &racyRefill{fakeDev: d}
	p := &Port{nic: r, bufs: r}
	q := &queue{p: p, id: 0, vec: 0}
	q.refill()
	if r.refills != 2 || r.triggers != 0 || p.starved.Load() != 0 {
		t.Fatalf("Refill called %d times, %d triggers, starved %b; want 2, 0, 0", r.refills, r.triggers, p.starved.Load())
	}
}
