package drivertest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// Harness is one opened NIC for a check: the NIC, the buffers it was given
// and the wire on its far side.
type Harness struct {
	NIC     driver.NIC
	Buffers driver.Buffers
	Wire    Wire
	// Timeout is how long a frame may take to cross the wire; 0 means 2 s.
	Timeout time.Duration
	// LiveIRQ says the vectors' fds really fire (a fake register file's
	// may not): the interrupt check runs only then.
	LiveIRQ bool
	// LossyWire says the wire may drop frames when a whole TX ring arrives
	// at once (a real one: the far NIC's ring and the sockets in between
	// fill up). The ring-full check then trusts the NIC's own TX counter
	// instead of the wire's count.
	LossyWire bool
}

func (h *Harness) timeout() time.Duration {
	if h.Timeout == 0 {
		return 2 * time.Second
	}
	return h.Timeout
}

// Check is one conformance check. It returns what the driver got wrong.
type Check struct {
	Name string
	Fn   func(h *Harness) error
}

// Checks lists the conformance checks, in the order Run runs them.
func Checks() []Check {
	return []Check{
		{"info", checkInfo},
		{"refill", checkRefill},
		{"receive", checkReceive},
		{"transmit", checkTransmit},
		{"transmit-invalid", checkTxInvalid},
		{"transmit-ring-full", checkTxRingFull},
		{"no-allocations", checkNoAllocs},
		{"interrupts", checkIRQ},
		{"reset", checkReset},
		{"tx-batch", checkTxBatch},
		{"close", checkClose},
	}
}

// Run runs every check as a subtest, each on a NIC that open returns fresh.
// open should register the NIC's release with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) *Harness) {
	for _, c := range Checks() {
		t.Run(c.Name, func(t *testing.T) {
			h := open(t)
			switch err := c.Fn(h); {
			case errors.Is(err, errSkip):
				t.Skipf("%s: %v for this NIC", c.Name, err)
			case err != nil:
				t.Error(err)
			}
		})
	}
}

var errSkip = errors.New("not applicable")

func checkInfo(h *Harness) error {
	i := h.NIC.Info()
	if err := i.Validate(); err != nil {
		return err
	}
	if i.MAC[0]&1 != 0 || (i.MAC[0]|i.MAC[1]|i.MAC[2]|i.MAC[3]|i.MAC[4]|i.MAC[5]) == 0 {
		return fmt.Errorf("MAC %v is not a unicast station address", i.MAC)
	}
	if len(i.Extras) > driver.MaxExtras {
		return fmt.Errorf("%d extra counters, at most %d fit", len(i.Extras), driver.MaxExtras)
	}
	for _, v := range i.Vectors {
		if v.Fd < 0 {
			return fmt.Errorf("vector %s has fd %d", v.Name, v.Fd)
		}
	}
	if h.NIC.Info() != i {
		return fmt.Errorf("Info returned a new value: it must describe one device for its lifetime")
	}
	return nil
}

// fillAll posts buffers to every queue and returns how many.
func fillAll(h *Harness) int {
	n := 0
	for q := 0; q < h.NIC.Info().Queues; q++ {
		n += h.NIC.Refill(q)
	}
	return n
}

// checkRefill: Refill fills every free slot and no more (a driver may fill
// its rings when it opens), takes its buffers from the pool, and posts a
// buffer again for each frame harvested.
func checkRefill(h *Harness) error {
	before := h.Buffers.Available()
	posted := fillAll(h)
	if got := before - h.Buffers.Available(); got != posted {
		return fmt.Errorf("Refill said it posted %d buffers, but %d left the pool", posted, got)
	}
	if again := fillAll(h); again != 0 {
		return fmt.Errorf("a second Refill of full rings posted %d more buffers", again)
	}
	info := h.NIC.Info()
	var descs [32]driver.RxDesc
	for q := 0; q < info.Queues; q++ {
		if n := h.NIC.RxBurst(q, descs[:]); n != 0 {
			return fmt.Errorf("queue %d: RxBurst returned %d frames before any was sent", q, n)
		}
		if n := h.NIC.Reclaim(q); n != 0 {
			return fmt.Errorf("queue %d: Reclaim returned %d buffers before any frame was sent", q, n)
		}
	}
	if err := h.Wire.Send(buildFrame(info.MAC, tag{})); err != nil {
		return fmt.Errorf("send one frame to filled rings: %w", err)
	}
	deadline := time.Now().Add(h.timeout())
	for {
		for q := 0; q < info.Queues; q++ {
			n := h.NIC.RxBurst(q, descs[:])
			if n == 0 {
				continue
			}
			bufs := make([]uint32, n)
			for i, d := range descs[:n] {
				bufs[i] = d.Buf
			}
			h.Buffers.PutMany(bufs)
			if again := h.NIC.Refill(q); again != n {
				return fmt.Errorf("queue %d: %d frames harvested, Refill posted %d buffers for their slots", q, n, again)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no queue received a frame within %v", h.timeout())
		}
		time.Sleep(100 * time.Microsecond)
	}
}
