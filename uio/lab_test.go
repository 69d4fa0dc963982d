package uio

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/mmio"
	"github.com/uiodrv/uiodrv/pci"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// The UIO lane: no vIOMMU, so the NICs see physical addresses.
var labVM = qemu.Config{
	NICs: []qemu.NIC{
		{Model: qemu.E1000, Addr: "03.0", MAC: "52:54:00:12:34:56"},
		{Model: qemu.E1000E, Addr: "04.0", MAC: "52:54:00:12:34:57"},
		{Model: qemu.E1000, Addr: "05.0", MAC: "52:54:00:12:34:58"}, // left unbound
	},
	Bind: []qemu.Binding{
		{BDF: "0000:00:03.0", Driver: "uio_pci_generic"},
		{BDF: "0000:00:04.0", Driver: "uio_pci_generic"},
	},
	Hugepages: 24,
}

// TestLabUIO runs TestGuestUIO* in one boot of the UIO lane.
func TestLabUIO(t *testing.T) {
	labtest.Run(t, labtest.Options{Package: "./uio", Run: "^TestGuestUIO", VM: labVM})
}

// e1000 registers (8254x SDM section 13).
const (
	regSTATUS = 0x00008 // Device Status - RO
	regICR    = 0x000C0 // Interrupt Cause Read - RC
	regICS    = 0x000C8 // Interrupt Cause Set - WO
	regIMS    = 0x000D0 // Interrupt Mask Set/Read - RW
	regIMC    = 0x000D8 // Interrupt Mask Clear - WO
	regRAL0   = 0x05400 // Receive Address Low 0 - RW
	regRAH0   = 0x05404 // Receive Address High 0 - RW
	icrLSC    = 0x4     // Link Status Change
)

func macOf(b *mmio.BAR) string {
	lo, hi := b.Read32(regRAL0), b.Read32(regRAH0)
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", byte(lo), byte(lo>>8), byte(lo>>16), byte(lo>>24), byte(hi), byte(hi>>8))
}

func waitIRQ(q *IRQ, d time.Duration) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return q.Wait(ctx)
}

// intxRoundTrip opens bdf, checks BAR0 and raises LSC through ICS three times.
func intxRoundTrip(t *testing.T, bdf, mac string) {
	d, err := Open(bdf, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", bdf, err)
	}
	t.Cleanup(func() { d.Close() })
	bar, err := d.BAR(0)
	if err != nil {
		t.Fatal(err)
	}
	st := bar.Read32(regSTATUS)
	t.Logf("%s (%s): STATUS %#08x, MAC %s, BAR0 %d bytes", bdf, d.UIOName, st, macOf(bar), bar.Len())
	if st == 0 || st == 0xffffffff {
		t.Errorf("STATUS = %#x: BAR0 does not reach the device", st)
	}
	if got := macOf(bar); got != mac {
		t.Errorf("MAC = %s, want %s", got, mac)
	}
	if err := d.EnableBusMaster(); err != nil {
		t.Fatal(err)
	}
	if cmd, _ := d.Config().Command(); cmd&(pci.CmdMemory|pci.CmdMaster) != pci.CmdMemory|pci.CmdMaster {
		t.Errorf("command %#x after EnableBusMaster", cmd)
	}
	bar.Write32(regIMC, 0xffffffff)
	bar.Read32(regICR)
	q, err := d.IRQ()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := waitIRQ(q, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with every cause masked = %d, %v; want a timeout", n, err)
	}
	bar.Write32(regIMS, icrLSC)
	for i := 0; i < 3; i++ {
		start := time.Now()
		bar.Write32(regICS, icrLSC)
		n, err := waitIRQ(q, 5*time.Second)
		if err != nil {
			t.Fatalf("interrupt %d: %v", i, err)
		}
		icr := bar.Read32(regICR) // acknowledges: INTx deasserts
		cmd, _ := d.Config().Command()
		t.Logf("interrupt %d: count %d after %v, ICR %#x, command %#x", i, n, time.Since(start), icr, cmd)
		if n != 1 || icr&icrLSC == 0 || cmd&pci.CmdINTxDisable == 0 {
			t.Errorf("interrupt %d: count %d, ICR %#x, command %#x (want 1, LSC, INTx disabled by uio_pci_generic)", i, n, icr, cmd)
		}
		if err := q.Unmask(); err != nil {
			t.Fatal(err)
		}
	}
	// Without Unmask the next interrupt is held back; Unmask delivers it.
	bar.Write32(regICS, icrLSC)
	if _, err := waitIRQ(q, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	bar.Read32(regICR)
	bar.Write32(regICS, icrLSC)
	if n, err := waitIRQ(q, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("interrupt while masked = %d, %v; want none", n, err)
	}
	if err := q.Unmask(); err != nil {
		t.Fatal(err)
	}
	if _, err := waitIRQ(q, 5*time.Second); err != nil {
		t.Errorf("interrupt pending across Unmask not delivered: %v", err)
	}
	bar.Read32(regICR)
	bar.Write32(regIMC, 0xffffffff)
	q.Unmask()

	errc := make(chan error, 1)
	go func() { _, err := q.Wait(context.Background()); errc <- err }()
	time.Sleep(50 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Wait after Close = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake Wait")
	}
}

func TestGuestUIOE1000(t *testing.T) {
	labtest.InGuest(t)
	for round := 0; round < 2; round++ { // the second round proves Close released everything
		intxRoundTrip(t, "0000:00:03.0", labVM.NICs[0].MAC)
	}
}

func TestGuestUIOE1000E(t *testing.T) {
	labtest.InGuest(t)
	intxRoundTrip(t, "0000:00:04.0", labVM.NICs[1].MAC)
}

func TestGuestUIODMA(t *testing.T) {
	labtest.InGuest(t)
	d, err := Open("0000:00:03.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, err := d.Allocator()
	if err != nil {
		t.Fatal(err)
	}
	// Larger than a hugepage: the guest's hugepages come in no promised
	// physical order (descending in a fresh guest), so these may be
	// segmented per hugepage; AddrOf must still name every byte.
	sizes := []int{64, 4096, 3 * 4096, 1 << 20, HugePageSize, 4 << 20, 8 << 20, 8<<20 + 4096}
	for _, size := range sizes {
		r, err := a.Alloc(size)
		if err != nil {
			t.Fatalf("Alloc(%d): %v", size, err)
		}
		b := r.Bytes()
		if len(b) != size || b[0] != 0 || b[size-1] != 0 {
			t.Errorf("Alloc(%d): len %d, not zeroed", size, len(b))
		}
		b[0], b[size-1] = 1, 2
		if r.Addr() == 0 || r.Addr()%Align != 0 {
			t.Errorf("Alloc(%d) at physical %#x", size, r.Addr())
		}
		if size <= HugePageSize && !r.Contiguous() {
			t.Errorf("Alloc(%d) of at most a hugepage is not contiguous: %v", size, r)
		}
		// Every 4 KiB page has a non-zero physical address, and it is the
		// one the region gives the device: AddrOf(off).
		pages := 0
		for off := 0; off < size; off += 4096 {
			p, err := PhysAddr(b, off)
			if err != nil {
				t.Fatalf("Alloc(%d): page at %#x: %v", size, off, err)
			}
			if p == 0 || p != r.AddrOf(off) {
				t.Fatalf("Alloc(%d): page at %#x is at physical %#x, the region says %#x (%v)", size, off, p, r.AddrOf(off), r)
			}
			pages++
		}
		t.Logf("Alloc(%d): %v, %d pages checked", size, r, pages)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestGuestUIOErrors(t *testing.T) {
	labtest.InGuest(t)
	_, err := Open("0000:00:05.0", nil)
	t.Logf("unbound device: %v", err)
	if !errors.Is(err, ErrNotBound) {
		t.Errorf("Open(unbound) = %v, want ErrNotBound", err)
	}
}
