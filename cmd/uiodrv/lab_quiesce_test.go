package main

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/internal/testframe"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabQuiesceUIO: a UIO run killed with SIGKILL while frames arrive
// leaves the e1000 with RCTL.EN set and its RX ring's physical address;
// uio_pci_generic only clears bus mastering. The guest then takes the
// hugepage that held that ring (it is free again), fills it with a pattern
// and keeps it, while the host goes on sending, and starts a second run.
// The second run resets the NIC before it enables bus mastering, so the
// page must come back unchanged: had bus mastering come first, QEMU's
// e1000 would flush its queued frames through the stale ring at once and
// write their descriptors into the page.
func TestLabQuiesceUIO(t *testing.T) {
	labtest.Require(t)
	bin := staticBinary(t)
	cfg := labConfig(bin, qemu.E1000, driver.BackendUIO, 5*time.Minute)
	cfg.Init = ""
	vm := labtest.Start(t, labtest.Options{Package: "./cmd/uiodrv", Run: "^TestGuestQuiesceUIO$", VM: cfg})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := vm.WaitOutput(ctx, 0, "LAB SEND"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		buf := make([]byte, testframe.MaxLen)
		dst := [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			f := testframe.Build(buf, testframe.Frame{Dst: dst, Src: labSrcMAC, Flow: seq % 64, Seq: uint64(seq), Len: 60})
			_ = vm.Peer(0).Send(f)
		}
	}()
	labtest.Finish(t, vm)
	close(done)
}

var labSrcMAC = [6]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}

func TestGuestQuiesceUIO(t *testing.T) {
	labtest.InGuest(t)
	const b = "--backend=uio"
	a, _, _, _ := startGuest(t, "--dev", labBDF, b, "--mode", "tasklet", "--settle", "0")
	fmt.Println("LAB SEND")
	time.Sleep(2 * time.Second) // QEMU's e1000 ignores RX for 1 s after an RCTL write
	a.Process.Signal(syscall.SIGKILL)
	a.Wait()
	time.Sleep(200 * time.Millisecond) // frames queue in QEMU meanwhile

	rctl, _ := readBAR0(labBDF, 0x100)
	lo, _ := readBAR0(labBDF, 0x2800)
	hi, _ := readBAR0(labBDF, 0x2804)
	rdh, _ := readBAR0(labBDF, 0x2810)
	cfg, _ := os.ReadFile("/sys/bus/pci/devices/" + labBDF + "/config")
	cmd := uint16(cfg[bus.CfgCommand]) | uint16(cfg[bus.CfgCommand+1])<<8
	ring := uint64(hi)<<32 | uint64(lo)
	t.Logf("after SIGKILL: RCTL %#x, ring at %#x, RDH %d, command %#04x", rctl, ring, rdh, cmd)
	if rctl&2 == 0 || ring == 0 {
		t.Fatalf("the killed run left RX off (RCTL %#x, ring %#x): nothing to observe", rctl, ring)
	}
	if cmd&bus.CmdMaster != 0 {
		t.Fatalf("bus mastering still on after SIGKILL (command %#04x): the NIC writes the freed ring already", cmd)
	}
	page, base := holdHugepage(t, ring&^(2<<20-1))
	for i := range page {
		page[i] = 0xAA
	}
	bb, _, errb, _ := startGuest(t, "--dev", labBDF, b, "--mode", "tasklet", "--settle", "0")
	time.Sleep(time.Second)
	bb.Process.Signal(syscall.SIGTERM)
	bb.Wait()
	changed, first := 0, -1
	for i, v := range page {
		if v != 0xAA {
			if first < 0 {
				first = i
			}
			changed++
		}
	}
	if changed > 0 {
		t.Errorf("the NIC wrote %d bytes into the killed run's ring page %#x (first at ring offset %d) before the second run's reset:\n%s",
			changed, base, first-int(ring-base), errb.String())
	} else {
		t.Logf("the killed run's ring page %#x (2 MiB) unchanged after the second run", base)
	}
	fmt.Println("guest quiesce check done")
}

// holdHugepage maps free 2 MiB hugepages until it gets the one at physical
// address want, keeps it mapped for the test's life, and frees the others.
func holdHugepage(t *testing.T, want uint64) ([]byte, uint64) {
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	var others [][]byte
	defer func() {
		for _, m := range others {
			unix.Munmap(m)
		}
	}()
	for i := 0; i < 64; i++ {
		m, err := unix.Mmap(-1, 0, 2<<20, unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_SHARED|unix.MAP_ANONYMOUS|unix.MAP_HUGETLB|unix.MAP_POPULATE|unix.MAP_LOCKED)
		if err != nil {
			t.Fatalf("hugepage %d: %v (the ring's page %#x not found among the free ones)", i, err, want)
		}
		va := reflect.ValueOf(m).Pointer()
		var e [8]byte
		if _, err := pm.ReadAt(e[:], int64(va/4096*8)); err != nil {
			t.Fatal(err)
		}
		pfn := uint64(e[0]) | uint64(e[1])<<8 | uint64(e[2])<<16 | uint64(e[3])<<24 |
			uint64(e[4])<<32 | uint64(e[5])<<40 | uint64(e[6]&0x7f)<<48
		if pfn<<12 == want {
			t.Cleanup(func() { unix.Munmap(m) })
			return m, want
		}
		others = append(others, m)
	}
	t.Fatalf("the ring's hugepage %#x is not among 64 free ones", want)
	return nil, 0
}
