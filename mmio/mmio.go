package mmio

import (
	"fmt"
	"time"
)

// Regs is a 32-bit register file. BAR implements it over a mapped BAR; tests
// implement it with a fake register file.
type Regs interface {
	Read32(off uint32) uint32
	Write32(off uint32, v uint32)
}

// SetBits sets bits in the register at off (read-modify-write).
func SetBits(r Regs, off, bits uint32) { r.Write32(off, r.Read32(off)|bits) }

// ClearBits clears bits in the register at off (read-modify-write).
func ClearBits(r Regs, off, bits uint32) { r.Write32(off, r.Read32(off)&^bits) }

// ErrTimeout is wrapped by WaitBits when the register never reached the value.
var ErrTimeout = fmt.Errorf("mmio: timed out waiting for register")

// WaitBits polls the register at off until (value & mask) == want or the
// timeout passes. It polls every 10 µs at first, backing off to 1 ms.
func WaitBits(r Regs, off, mask, want uint32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	sleep := 10 * time.Microsecond
	for {
		v := r.Read32(off)
		if v&mask == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: reg %#05x = %#08x, want %#08x under mask %#08x after %v",
				ErrTimeout, off, v, want, mask, timeout)
		}
		time.Sleep(sleep)
		if sleep < time.Millisecond {
			sleep *= 2
		}
	}
}
