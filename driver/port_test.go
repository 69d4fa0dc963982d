package driver

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
)

func frame(i int, size int) []byte {
	f := make([]byte, size)
	copy(f[0:6], []byte{2, 0, 0, 0, 0, 1})
	copy(f[6:12], []byte{2, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(f[12:], 0x88b5)
	binary.BigEndian.PutUint32(f[14:], uint32(i))
	for j := 18; j < size; j++ {
		f[j] = byte(i + j)
	}
	return f
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReflectEveryMode sends distinct frames through each mode with the
// Reflect handler and checks every one comes back once, MACs swapped,
// payload intact, in order, with the counters accounting for all.
//
// Each mode runs with both top halves, on an edge-triggered vector (MSI-X
// like) and on an automasked INTx line (VFIO's INTx: the light top half
// keeps it masked until the bottom half is done).
func TestReflectEveryMode(t *testing.T) {
	for _, mode := range deferral.Modes() {
		for _, th := range []TopHalf{TopHalfCopy, TopHalfLight} {
			for _, intx := range []bool{false, true} {
				if mode == deferral.ModeBusyPoll && (th == TopHalfLight || intx) {
					continue // no interrupts
				}
				name := mode.String() + "/" + th.String()
				if intx {
					name += "/intx"
				}
				t.Run(name, func(t *testing.T) { testReflect(t, mode, th, intx, false) })
			}
		}
	}
}

func testReflect(t *testing.T, mode deferral.Mode, th TopHalf, intx, noTrigger bool) {
	const n = 5000
	dev := newFakeDev(t, 256)
	if intx {
		dev = newFakeINTx(t, 256)
	}
	var opened Opened = dev
	if noTrigger {
		opened = withoutTrigger{dev}
	}
	p, err := NewPort(opened, Config{Mode: mode, Handler: reflectAll{}, IRQCPU: 0, BHCPU: 1 % numCPU(), Budget: 32, RingSize: 256, TopHalf: th})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 50 {
		var batch [][]byte
		for j := i; j < i+50; j++ {
			batch = append(batch, frame(j, 60+j%200))
		}
		dev.inject(batch...)
		// Pace like a NIC whose ring holds 256 buffers.
		for start := time.Now(); ; time.Sleep(time.Millisecond) {
			dev.mu.Lock()
			wire := len(dev.rxq)
			dev.mu.Unlock()
			if wire < 200 {
				break
			}
			if time.Since(start) > 20*time.Second {
				st := p.Stats()
				dev.mu.Lock()
				t.Fatalf("wire stuck at %d; stats %v; pending %d free %d enabled %v causes %v starved %v", wire, &st, len(dev.pending), len(dev.freeB), dev.enabled, dev.causes, p.starved.Load())
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(dev.sentFrames()) < n {
		if time.Now().After(deadline) {
			st := p.Stats()
			dev.mu.Lock()
			t.Fatalf("reflected %d of %d; stats %v; wire %d pending %d free %d enabled %v causes %v", len(dev.sent), n, &st, len(dev.rxq), len(dev.pending), len(dev.freeB), dev.enabled, dev.causes)
		}
		time.Sleep(time.Millisecond)
	}
	// Stats after Close: the last bottom-half run has counted its TX
	// (the fake device records a frame before the core counts it).
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	sent := dev.sentFrames()
	if len(sent) != n {
		t.Fatalf("reflected %d frames, want %d", len(sent), n)
	}
	for i, got := range sent {
		want := frame(i, 60+i%200)
		copy(want[0:6], []byte{2, 0, 0, 0, 0, 2})
		copy(want[6:12], []byte{2, 0, 0, 0, 0, 1})
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d differs", i)
		}
	}
	if st.RxPackets != n || st.Processed != n || st.Dropped() != 0 || st.TxPackets != n || !st.Accounted() {
		t.Fatalf("stats: %v", &st)
	}
	if mode != deferral.ModeBusyPoll && st.IRQs == 0 {
		t.Fatal("no interrupts counted")
	}
	if got := dev.freeCount(); got != 256 {
		t.Fatalf("%d of 256 buffers back in the pool after close", got)
	}
	if !dev.closed.Load() {
		t.Fatal("device not closed")
	}
}

func numCPU() int {
	n := 0
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil && bytes.Contains(b, []byte("-")) {
		n = 2
	}
	if n == 0 {
		n = 1
	}
	return n
}

// TestHandlerPanicRecovered: a panicking handler is counted, its batch's
// buffers freed, and the port goes on.
func TestHandlerPanicRecovered(t *testing.T) {
	dev := newFakeDev(t, 64)
	var calls atomic.Int64
	h := HandlerFunc(func(pkts []Packet) {
		for _, pk := range pkts {
			if binary.BigEndian.Uint32(pk.Data[14:]) == 7 {
				panic("frame 7")
			}
		}
		calls.Add(int64(len(pkts)))
	})
	p, err := NewPort(dev, Config{Mode: deferral.ModeWorkqueue, Handler: h, BHCPU: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dev.inject(frame(7, 64))
	waitFor(t, "the panic", func() bool { return p.Stats().Panics == 1 })
	for i := 0; i < 10; i++ {
		dev.inject(frame(100+i, 64))
	}
	waitFor(t, "later frames", func() bool { return calls.Load() == 10 })
	st := p.Stats()
	if st.Drops[DropPanic] != 1 || st.Processed != 10 || !st.Accounted() {
		t.Fatalf("stats: %v", &st)
	}
	waitFor(t, "buffers back", func() bool { return dev.freeCount() == 64 })
}

// TestRingFullDrops: with the bottom half stuck, frames beyond the ring are
// dropped and counted, the NIC gets its buffers back, and nothing is lost
// from the accounting.
func TestRingFullDrops(t *testing.T) {
	dev := newFakeDev(t, 256)
	release := make(chan struct{})
	var seen atomic.Int64
	h := HandlerFunc(func(pkts []Packet) {
		<-release
		seen.Add(int64(len(pkts)))
	})
	p, err := NewPort(dev, Config{Mode: deferral.ModeThreaded, Handler: h, BHCPU: 0, RingSize: 16, Budget: 4, ThreadPrio: -1, TopHalf: TopHalfCopy})
	if err != nil {
		t.Fatal(err)
	}
	var batch [][]byte
	for i := 0; i < 100; i++ {
		batch = append(batch, frame(i, 64))
	}
	dev.inject(batch...)
	waitFor(t, "harvest", func() bool { return p.Stats().RxPackets == 100 })
	st := p.Stats()
	if st.Drops[DropRingFull] == 0 {
		t.Fatalf("no ring-full drops: %v", &st)
	}
	close(release)
	waitFor(t, "drain", func() bool { s := p.Stats(); return s.InFlight == 0 && s.Processed+s.Dropped() == 100 })
	st = p.Stats()
	if !st.Accounted() || st.Processed+st.Drops[DropRingFull] != 100 || seen.Load() != int64(st.Processed) {
		t.Fatalf("stats: %v (handler saw %d)", &st, seen.Load())
	}
	p.Close()
	if dev.freeCount() != 256 {
		t.Fatalf("%d buffers free after close", dev.freeCount())
	}
}

// TestCloseCountsShutdownDrops: frames left in the ring at Close are counted.
func TestCloseCountsShutdownDrops(t *testing.T) {
	dev := newFakeDev(t, 64)
	block := make(chan struct{})
	h := HandlerFunc(func(pkts []Packet) { <-block })
	p, err := NewPort(dev, Config{Mode: deferral.ModeWorkqueue, Handler: h, BHCPU: 0, Budget: 1, RingSize: 64, TopHalf: TopHalfCopy})
	if err != nil {
		t.Fatal(err)
	}
	var batch [][]byte
	for i := 0; i < 20; i++ {
		batch = append(batch, frame(i, 64))
	}
	dev.inject(batch...)
	waitFor(t, "harvest", func() bool { return p.Stats().RxPackets == 20 })
	go func() { time.Sleep(50 * time.Millisecond); close(block) }()
	p.Close()
	p.Close() // idempotent
	st := p.Stats()
	if st.Drops[DropShutdown] == 0 || !st.Accounted() || st.InFlight != 0 {
		t.Fatalf("stats after close: %v", &st)
	}
	if dev.freeCount() != 64 {
		t.Fatalf("%d buffers free after close", dev.freeCount())
	}
}

// TestLinkChangesRecorded: link interrupts run the workqueue item.
func TestLinkChangesRecorded(t *testing.T) {
	dev := newFakeDev(t, 16)
	p, err := NewPort(dev, Config{Mode: deferral.ModeTasklet})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dev.setLink(false)
	waitFor(t, "link down", func() bool { return p.Stats().LinkDowns == 1 })
	if p.Stats().Link {
		t.Fatal("link still up")
	}
	dev.setLink(true)
	waitFor(t, "link up", func() bool { return p.Stats().LinkUps == 1 })
}

// TestForwardCopiesToOtherPort: Forward verdicts leave through the other port.
func TestForwardCopiesToOtherPort(t *testing.T) {
	devB := newFakeDev(t, 32)
	pb, err := NewPort(devB, Config{Mode: deferral.ModeTasklet})
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Close()
	devA := newFakeDev(t, 32)
	pa, err := NewPort(devA, Config{Mode: deferral.ModeTasklet, Handler: forwardAll{}, Forward: pb})
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Close()
	devA.inject(frame(1, 100), frame(2, 200))
	waitFor(t, "forward", func() bool { return len(devB.sentFrames()) == 2 })
	if got := devB.sentFrames(); !bytes.Equal(got[1], frame(2, 200)) {
		t.Fatal("forwarded frame differs")
	}
	if len(devA.sentFrames()) != 0 {
		t.Fatal("frames left through the receiving port")
	}
	waitFor(t, "buffers back", func() bool { return devA.freeCount() == 32 })
}

func TestBadConfig(t *testing.T) {
	dev := newFakeDev(t, 8)
	for _, c := range []Config{{Budget: -1}, {Budget: 5000}, {RingSize: 100}} {
		if _, err := NewPort(dev, c); err == nil {
			t.Errorf("NewPort(%+v) succeeded", c)
		}
	}
}

func ExampleStats_String() {
	s := Stats{RxPackets: 3, Processed: 2, Drops: [numDropReasons]uint64{DropRxError: 1}}
	fmt.Println(s.Accounted())
	// Output: true
}
