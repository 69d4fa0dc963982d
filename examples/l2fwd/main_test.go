package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/internal/testframe"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// frame is frame seq of direction dir (0: into a, 1: into b), addressed to
// hosts that are neither NIC: only a promiscuous NIC takes it.
func frame(dir, seq int) []byte {
	src, dst := [6]byte{2, 0, 0, 0, 0xa0, byte(dir)}, [6]byte{2, 0, 0, 0, 0xb0, byte(dir)}
	return testframe.Build(make([]byte, testframe.MaxLen), testframe.Frame{Dst: dst, Src: src, Flow: seq % 64, Seq: uint64(seq), Len: 60 + (seq*53)%1400})
}

// TestForwardHandler runs the example's handler on two in-memory NICs: a
// frame into either leaves the other unchanged.
func TestForwardHandler(t *testing.T) {
	var devs [2]*drivertest.FakeDevice
	var ports [2]*uiodrv.Port
	for i := range devs {
		d, err := drivertest.NewFakeDevice(drivertest.FakeOptions{IRQ: true}, 256)
		if err != nil {
			t.Fatal(err)
		}
		devs[i] = d
		if ports[i], err = uiodrv.NewPort(d, uiodrv.Config{Handler: forward, CPUs: []int{-1}}); err != nil {
			t.Fatal(err)
		}
		defer ports[i].Close()
	}
	ports[0].SetForward(ports[1])
	ports[1].SetForward(ports[0])
	for seq := 0; seq < 100; seq++ {
		in, out := seq%2, 1-seq%2
		f := frame(in, seq)
		if err := devs[in].Wire().Send(f); err != nil {
			t.Fatal(err)
		}
		if got := devs[out].Await(1, 5*time.Second); len(got) != 1 || !bytes.Equal(got[0], f) {
			t.Fatalf("frame %d into port %d: %d frames out of port %d, want it unchanged", seq, in, len(got), out)
		}
	}
}

const labFrames = 300 // each way

// TestLabL2Fwd runs l2fwd in the lab between two e1000s (vfio-pci): the
// host sends labFrames frames into each NIC, alternating, each to a MAC
// address neither NIC has, and checks that each leaves the other NIC byte
// for byte unchanged, and nothing else.
func TestLabL2Fwd(t *testing.T) {
	vm := labtest.Start(t, labtest.Options{
		Package: "./examples/l2fwd",
		Run:     "^TestGuestL2Fwd$",
		VM: qemu.Config{IOMMU: true, Timeout: 5 * time.Minute, NICs: []qemu.NIC{{Model: qemu.E1000}, {Model: qemu.E1000}},
			Bind: []qemu.Binding{{BDF: "0000:00:03.0", Driver: "vfio-pci"}, {BDF: "0000:00:04.0", Driver: "vfio-pci"}}},
		Env: []string{"L2FWD_MODE=" + envOr("L2FWD_MODE", "napi")},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := vm.WaitOutput(ctx, 0, "l2fwd: forwarding"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // QEMU's e1000 ignores RX for a second after RCTL is written
	buf := make([]byte, 4096)
	for seq := 0; seq < 2*labFrames; seq++ {
		in, out := seq%2, 1-seq%2
		f := frame(in, seq)
		if err := vm.Peer(in).Send(f); err != nil {
			t.Fatal(err)
		}
		n, err := vm.Peer(out).RecvInto(buf, time.Now().Add(10*time.Second))
		if err != nil {
			t.Fatalf("frame %d into NIC %d: %v", seq, in, err)
		}
		if !bytes.Equal(buf[:n], f) {
			t.Fatalf("frame %d into NIC %d left NIC %d altered:\n got % x\nwant % x", seq, in, out, buf[:min(n, 64)], f[:64])
		}
	}
	for i := range 2 {
		if n, err := vm.Peer(i).RecvInto(buf, time.Now().Add(300*time.Millisecond)); err == nil {
			t.Fatalf("an extra frame left NIC %d: % x", i, buf[:min(n, 64)])
		}
	}
	t.Logf("%d frames forwarded each way, byte for byte", labFrames)
	labtest.Finish(t, vm)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestGuestL2Fwd runs l2fwd's run in the guest until it has forwarded
// 2*labFrames frames, and checks its summary.
func TestGuestL2Fwd(t *testing.T) {
	labtest.InGuest(t)
	mode, err := uiodrv.ParseMode(os.Getenv("L2FWD_MODE"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cfg := config{a: "0000:00:03.0", b: "0000:00:04.0", mode: mode, count: 2 * labFrames}
	if err := run(ctx, cfg, io.MultiWriter(os.Stdout, &out)); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("l2fwd: %s -> %s %d frames, %s -> %s %d frames, dropped 0 and 0", cfg.a, cfg.b, labFrames, cfg.b, cfg.a, labFrames)
	if !bytes.Contains(out.Bytes(), []byte(want)) {
		t.Fatalf("summary %q, want %q", out.String(), want)
	}
}
