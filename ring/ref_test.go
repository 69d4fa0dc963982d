package ring

// refQueue is the reference model the fuzz test compares the ring with: a
// bounded FIFO built on a plain slice, too simple to be wrong.
type refQueue[T any] struct {
	q   []T
	cap int
}

// push appends up to len(vs) elements (all or none when bulk) and returns how
// many.
func (r *refQueue[T]) push(vs []T, bulk bool) int {
	n := min(len(vs), r.cap-len(r.q))
	if bulk && n < len(vs) {
		return 0
	}
	r.q = append(r.q, vs[:n]...)
	return n
}

// pop moves up to len(out) elements (all or none when bulk) into out and
// returns how many.
func (r *refQueue[T]) pop(out []T, bulk bool) int {
	n := min(len(out), len(r.q))
	if bulk && n < len(out) {
		return 0
	}
	copy(out, r.q[:n])
	r.q = r.q[n:]
	return n
}
