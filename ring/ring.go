package ring

import (
	"errors"
	"fmt"
)

// MaxCapacity is the largest capacity New* accepts.
//
// It keeps capacities representable as int on every platform.
const MaxCapacity = 1 << 30

// ErrCapacity is returned (wrapped) by NewSPSC when the requested
// capacity is not a power of two in [1, MaxCapacity].
var ErrCapacity = errors.New("capacity must be a power of two in [1, 2^30]")

// pad keeps fields written by different goroutines on different cache lines.
//
// Go gives no control over the alignment of a heap object beyond 8 bytes, so
// instead of padding *to* a line boundary we put a whole pad *between* groups
// of fields: two fields separated by 128 bytes can share neither a 64-byte line
// nor the 128-byte pair of lines that the adjacent-line prefetcher (Intel's
// spatial prefetcher, AMD's L2 "adjacent line" prefetcher) pulls in together.
type pad [128]byte

// checkCapacity validates a requested capacity and returns it as uint64.
func checkCapacity(op string, capacity int) (uint64, error) {
	if capacity < 1 || capacity > MaxCapacity || capacity&(capacity-1) != 0 {
		return 0, fmt.Errorf("%s: capacity %d: %w", op, capacity, ErrCapacity)
	}
	return uint64(capacity), nil
}
