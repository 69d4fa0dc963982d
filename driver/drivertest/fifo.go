package drivertest

// fifo is a fixed-capacity queue that never allocates after creation: the
// fake's rings, so that its packet path allocates nothing either and the
// conformance kit's allocation check measures the driver alone.
type fifo[T any] struct {
	buf        []T
	head, size int
}

func newFIFO[T any](capacity int) fifo[T] { return fifo[T]{buf: make([]T, capacity)} }

func (f *fifo[T]) len() int  { return f.size }
func (f *fifo[T]) room() int { return len(f.buf) - f.size }

func (f *fifo[T]) push(v T) bool {
	if f.size == len(f.buf) {
		return false
	}
	f.buf[(f.head+f.size)%len(f.buf)] = v
	f.size++
	return true
}

func (f *fifo[T]) pop() (T, bool) {
	var zero T
	if f.size == 0 {
		return zero, false
	}
	v := f.buf[f.head]
	f.buf[f.head] = zero
	f.head = (f.head + 1) % len(f.buf)
	f.size--
	return v, true
}
