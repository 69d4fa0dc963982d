package drivertest

import (
	"fmt"
	"runtime"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/driver"
)

// checkNoAllocs: the per-queue operations and ReadStats allocate nothing.
// Only the driver's calls are measured; the wire's work (which allocates in
// fakes) happens between the measurements. The runtime counts allocations
// process-wide, so another goroutine's can land in a measurement: as
// testing.AllocsPerRun does, it runs on one P, and it takes the best of three
// attempts (a driver that allocates does so in every one).
func checkNoAllocs(h *Harness) error {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	best := ^uint64(0)
	for attempt := 0; attempt < 3 && best != 0; attempt++ {
		n, err := countAllocs(h)
		if err != nil {
			return err
		}
		best = min(best, n)
	}
	if best != 0 {
		return fmt.Errorf("%d allocations in 20 rounds of RxBurst/Refill/TxBurst/Reclaim/ReadStats (the best of 3 attempts), want 0", best)
	}
	return nil
}

func countAllocs(h *Harness) (uint64, error) {
	info := h.NIC.Info()
	fillAll(h)
	var descs [32]driver.RxDesc
	var bufs [32]uint32
	var one [1]driver.TxDesc
	var st driver.NICStats
	var ms runtime.MemStats
	measure := func(fn func()) uint64 {
		runtime.ReadMemStats(&ms)
		m0 := ms.Mallocs
		fn()
		runtime.ReadMemStats(&ms)
		return ms.Mallocs - m0
	}
	var allocs uint64
	for i := 0; i < 20; i++ {
		if err := h.Wire.Send(buildFrame(info.MAC, tag{flow: uint16(i), seq: 0, id: uint32(i)})); err != nil {
			return 0, fmt.Errorf("send: %w", err)
		}
		allocs += measure(func() {
			for q := 0; q < info.Queues; q++ {
				k := h.NIC.RxBurst(q, descs[:])
				for j, d := range descs[:k] {
					bufs[j] = d.Buf
				}
				h.Buffers.PutMany(bufs[:k])
				h.NIC.Refill(q)
			}
		})
		d, err := queueFrame(h, tag{flow: 0, seq: uint32(i), id: uint32(i)})
		if err != nil {
			return 0, err
		}
		one[0] = d
		allocs += measure(func() {
			if h.NIC.TxBurst(0, one[:]) != 1 {
				bufs[0] = one[0].Buf
				h.Buffers.PutMany(bufs[:1])
			}
		})
		h.Wire.Collect(1, h.timeout())
		allocs += measure(func() {
			h.NIC.Reclaim(0)
			h.NIC.ReadStats(&st)
		})
	}
	return allocs, nil
}

func readable(fd int, wait time.Duration) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	end := time.Now().Add(wait)
	for {
		n, err := unix.Poll(p, int(max(time.Until(end), 0)/time.Millisecond))
		if err != unix.EINTR { // EINTR: the Go runtime's preemption signal; poll again
			return err == nil && n > 0 && p[0].Revents&unix.POLLIN != 0
		}
	}
}

// drain consumes pending interrupt events and re-arms the lines.
func drain(vs []driver.Vector) {
	var b [8]byte
	for _, v := range vs {
		for readable(v.Fd, 0) {
			if _, err := unix.Read(v.Fd, b[:]); err != nil {
				break
			}
		}
		if v.Unmask != nil {
			_ = v.Unmask()
		}
	}
}

// irqSettle is how long checkIRQ lets an interrupt raised before a mask
// arrive before it judges the masked state.
const irqSettle = 50 * time.Millisecond

// checkIRQ: a received frame fires its queue's vector when RX is enabled,
// fires nothing when masked, and (a driver.Triggerer) Trigger fires a
// vector from software.
func checkIRQ(h *Harness) error {
	info := h.NIC.Info()
	vs := info.Vectors
	if len(vs) == 0 || !h.LiveIRQ {
		return errSkip
	}
	fillAll(h)
	setAll := func(on bool) {
		for v := range vs {
			h.NIC.SetIRQ(v, driver.CauseRX, on)
		}
	}
	r := newRxTally(info.Queues)
	send := func(id int) error {
		return h.Wire.Send(buildFrame(info.MAC, tag{flow: uint16(id), seq: 0, id: uint32(id)}))
	}
	setAll(true)
	drain(vs)
	if err := send(0); err != nil {
		return err
	}
	deadline := time.Now().Add(h.timeout())
	fired := -1
	for fired < 0 && time.Now().Before(deadline) {
		for v := range vs {
			if readable(vs[v].Fd, time.Millisecond) {
				fired = v
				break
			}
		}
	}
	if fired < 0 {
		return fmt.Errorf("no vector fired within %v of a frame arriving with RX interrupts enabled", h.timeout())
	}
	if c := h.NIC.AckIRQ(fired); c&driver.CauseRX == 0 {
		return fmt.Errorf("vector %s fired for a received frame, AckIRQ says %v", vs[fired].Name, c)
	}
	if err := r.harvestUntil(h, 1); err != nil {
		return err
	}
	if q := r.flowQueue[0]; info.QueueVector[q] != fired {
		return fmt.Errorf("the frame landed on queue %d (vector %d), vector %d fired", q, info.QueueVector[q], fired)
	}
	setAll(false)
	// An interrupt raised before the mask may still be on its way (an
	// emulated NIC's message reaches the eventfd when a vCPU next runs,
	// tens of milliseconds later on a loaded host): let it land and drain
	// it, so that only the masked frame's interrupt is judged.
	time.Sleep(irqSettle)
	drain(vs)
	if err := send(1); err != nil {
		return err
	}
	for v := range vs {
		if readable(vs[v].Fd, 100*time.Millisecond) {
			return fmt.Errorf("vector %s fired for a received frame with RX interrupts masked", vs[v].Name)
		}
	}
	if err := r.harvestUntil(h, 2); err != nil {
		return err
	}
	t, ok := h.NIC.(driver.Triggerer)
	if !ok {
		return nil // the core raises its own software interrupt
	}
	// Acknowledge the masked frame's cause, or unmasking would fire for it
	// and hide whether Trigger works.
	for v := range vs {
		h.NIC.AckIRQ(v)
	}
	setAll(true)
	v0 := info.QueueVector[0]
	readable(vs[v0].Fd, 10*time.Millisecond)
	drain(vs)
	t.Trigger(v0)
	if !readable(vs[v0].Fd, h.timeout()) {
		return fmt.Errorf("Trigger(%d) did not fire vector %s", v0, vs[v0].Name)
	}
	drain(vs)
	return nil
}

func checkClose(h *Harness) error {
	if err := h.NIC.Close(); err != nil {
		return fmt.Errorf("Close: %w", err)
	}
	if err := h.NIC.Close(); err != nil {
		return fmt.Errorf("second Close: %w (Close must be idempotent)", err)
	}
	return nil
}
