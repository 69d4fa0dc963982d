package drivertest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/internal/testframe"
)

func openFake(t testing.TB, o FakeOptions) *Harness {
	t.Helper()
	alloc := NewMemAllocator()
	pool, err := driver.NewBufPool(alloc, 1024)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFake(pool, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if err := pool.Close(); err != nil {
			t.Errorf("pool close: %v", err)
		}
		if n := alloc.Open(); n != 0 {
			t.Errorf("%d DMA regions left open", n)
		}
	})
	return &Harness{NIC: f, Buffers: pool, Wire: f.Wire(), LiveIRQ: true}
}

func TestFakeConforms(t *testing.T) {
	for _, o := range []FakeOptions{
		{Queues: 1},
		{Queues: 1, IRQ: true, RingSize: 8},
		{Queues: 2, IRQ: true},
		{Queues: 4, IRQ: true, RingSize: 256},
	} {
		t.Run(fmt.Sprintf("q%d-irq%v-ring%d", o.Queues, o.IRQ, o.RingSize), func(t *testing.T) {
			Run(t, func(t *testing.T) *Harness { return openFake(t, o) })
		})
	}
}

// Each check must catch the bug it is for: the kit is only as good as the
// failures it can see.
func TestChecksCatchBugs(t *testing.T) {
	for _, tc := range []struct {
		bug    Bug
		queues int
		check  string
	}{
		{BugCorrupt, 1, "receive"},
		{BugDuplicate, 1, "receive"},
		{BugSplitFlows, 2, "receive"},
		{BugReorderTx, 1, "transmit"},
		{BugLeak, 1, "transmit"},
		{BugAllocates, 1, "no-allocations"},
		{BugNoIRQ, 2, "interrupts"},
		{BugIgnoreMask, 2, "interrupts"},
		{BugCloseTwice, 1, "close"},
		{BugNoReset, 1, "reset"},
		{BugNoFlush, 2, "tx-batch"},
	} {
		t.Run(tc.check, func(t *testing.T) {
			failed := map[string]error{}
			for _, c := range Checks() {
				h := openFake(t, FakeOptions{Queues: tc.queues, IRQ: true, Bugs: tc.bug})
				if err := c.Fn(h); err != nil && !errors.Is(err, errSkip) {
					failed[c.Name] = err
				}
			}
			if failed[tc.check] == nil {
				t.Fatalf("bug %#x: check %q passed; failures: %v", tc.bug, tc.check, failed)
			}
			t.Logf("bug %#x caught by %q: %v", tc.bug, tc.check, failed[tc.check])
		})
	}
}

func TestFakeOptions(t *testing.T) {
	pool, err := driver.NewBufPool(NewMemAllocator(), 16)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, o := range []FakeOptions{{Queues: 17}, {Queues: -1}, {RingSize: 2}} {
		if _, err := NewFake(pool, o); !errors.Is(err, driver.ErrBadConfig) {
			t.Errorf("%+v: err = %v, want ErrBadConfig", o, err)
		}
	}
}

func TestIsKitFrame(t *testing.T) {
	f := buildFrame(kitSrcMAC, tag{flow: 3, seq: 1, id: 9})
	if !IsKitFrame(f) {
		t.Fatal("a kit frame is not recognised")
	}
	f[testframe.HeaderLen] ^= 1
	if IsKitFrame(f) || IsKitFrame(f[:20]) {
		t.Fatal("a frame without the magic, or a runt, passes as the kit's")
	}
}
