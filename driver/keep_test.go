package driver_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
)

// keeper keeps the frames whose byte 14 is keepMark and records the buffer
// of every frame it sees.
type keeper struct {
	mu   sync.Mutex
	seen []uint32 // buffer of each frame, in order
	kept []driver.Packet
}

const keepMark = 0xAA

func (k *keeper) Handle(pkts []driver.Packet) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range pkts {
		k.seen = append(k.seen, pkts[i].Desc.Buf)
		if pkts[i].Data[14] == keepMark {
			pkts[i].Verdict = driver.Keep
			k.kept = append(k.kept, pkts[i])
		}
	}
}

func (k *keeper) count() int { k.mu.Lock(); defer k.mu.Unlock(); return len(k.seen) }

// sendOne puts frame on the fake's wire, waiting for a posted buffer, and
// waits until the handler has seen one more frame.
func sendOne(t *testing.T, w drivertest.Wire, k *keeper, frame []byte) uint32 {
	t.Helper()
	n := k.count()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := w.Send(frame)
		if err == nil {
			break
		}
		if !errors.Is(err, drivertest.ErrNoBuffer) || time.Now().After(deadline) {
			t.Fatalf("send: %v", err)
		}
		time.Sleep(100 * time.Microsecond)
	}
	for k.count() == n {
		if time.Now().After(deadline) {
			t.Fatal("the handler never saw the frame")
		}
		time.Sleep(100 * time.Microsecond)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.seen[n]
}

// TestKeepRelease: a kept buffer is never handed to the NIC again while the
// handler holds it (its bytes stay as received while 200 frames cycle
// through the other 15 buffers); once released, it is reused.
func TestKeepRelease(t *testing.T) {
	dev := openFake(t, 1, 16)
	k := &keeper{}
	p, err := driver.NewPort(dev, driver.Config{Mode: deferral.ModeTasklet, Handler: k, Budget: 8, ThreadPrio: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := dev.f.Wire()
	keep := bytes.Repeat([]byte{keepMark}, 60)
	drop := bytes.Repeat([]byte{0x55}, 60)
	kb := sendOne(t, w, k, keep)
	k.mu.Lock()
	data := k.kept[0].Data
	k.mu.Unlock()
	for i := 0; i < 200; i++ {
		if b := sendOne(t, w, k, drop); b == kb {
			t.Fatalf("frame %d received into kept buffer %d", i, kb)
		}
	}
	if !bytes.Equal(data, keep) {
		t.Fatalf("kept frame overwritten: % x", data[:16])
	}
	if st := p.Stats(); st.Processed != 201 || st.Dropped() != 0 {
		t.Fatalf("stats %v: want 201 processed, none dropped", &st)
	}
	p.Release(kb)
	reused := false
	for i := 0; i < 200 && !reused; i++ {
		reused = sendOne(t, w, k, drop) == kb
	}
	if !reused {
		t.Fatalf("released buffer %d not reused in 200 frames", kb)
	}
	if got := driver.Keep.String(); got != "keep" {
		t.Errorf("Keep.String() = %q", got)
	}
}

// TestSetForwardBothWays: two ports forward to each other; after
// SetForward(nil) a port's Forward verdicts are counted as dropped.
func TestSetForwardBothWays(t *testing.T) {
	// More buffers than the RX ring holds: a forward takes one of the
	// other port's free buffers.
	devA, devB := openFake(t, 1, 256), openFake(t, 1, 256)
	fwd := driver.HandlerFunc(func(pkts []driver.Packet) {
		for i := range pkts {
			pkts[i].Verdict = driver.Forward
		}
	})
	a, err := driver.NewPort(devA, driver.Config{Mode: deferral.ModeTasklet, Handler: fwd, ThreadPrio: -1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := driver.NewPort(devB, driver.Config{Mode: deferral.ModeTasklet, Handler: fwd, ThreadPrio: -1, Forward: a})
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	a.SetForward(b)
	fa, fb := bytes.Repeat([]byte{1}, 64), bytes.Repeat([]byte{2}, 70)
	for _, c := range []struct {
		in, out drivertest.Wire
		frame   []byte
	}{{devA.f.Wire(), devB.f.Wire(), fa}, {devB.f.Wire(), devA.f.Wire(), fb}} {
		if err := c.in.Send(c.frame); err != nil {
			t.Fatal(err)
		}
		got := collectN(c.out, 1)
		if len(got) != 1 || !bytes.Equal(got[0], c.frame) {
			sa, sb := a.Stats(), b.Stats()
			t.Fatalf("forwarded %d frames, want the one sent: %x; a %v b %v", len(got), got, &sa, &sb)
		}
	}
	b.SetForward(nil)
	if err := devB.f.Wire().Send(fb); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := b.Stats(); st.TxDropped != 1; st = b.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("after SetForward(nil): stats %v, want 1 tx dropped", &st)
		}
		time.Sleep(time.Millisecond)
	}
	// b forwards to nobody now: a may close first.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// collectN polls the fake's wire (its Collect does not wait) until n frames
// left or 5 s passed.
func collectN(w drivertest.Wire, n int) [][]byte {
	var got [][]byte
	for deadline := time.Now().Add(5 * time.Second); len(got) < n && time.Now().Before(deadline); {
		got = append(got, w.Collect(0, 0)...)
		time.Sleep(100 * time.Microsecond)
	}
	return got
}
