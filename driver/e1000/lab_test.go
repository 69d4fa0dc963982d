package e1000_test

import (
	"context"
	"fmt"
	"github.com/uiodrv/uiodrv/bus"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/handler"
	"github.com/uiodrv/uiodrv/internal/testframe"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// The reflect lab test: for each NIC model and each mode, the host peer sends
// labFrames distinct frames (at most labWindow in flight, a pace the lab
// carries without loss) and the driver in the guest reflects each. The host
// checks every reflected frame byte for byte (MACs swapped); the guest checks
// that its software and hardware counters agree.
const (
	labFrames = 10000
	labWindow = 32
)

var labNICs = []struct {
	model qemu.NICModel
	bdf   string
	mac   [6]byte
}{
	{qemu.E1000, "0000:00:03.0", [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}},
	{qemu.E1000E, "0000:00:04.0", [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x57}},
}

func TestLabReflectVFIO(t *testing.T) { labReflect(t, driver.BackendVFIO, false) }
func TestLabReflectUIO(t *testing.T)  { labReflect(t, driver.BackendUIO, false) }

// TestLabReflectMSIX runs the e1000e with separate MSI-X vectors for RX, TX
// and other causes (IVAR routing), in a few modes.
func TestLabReflectMSIX(t *testing.T) { labReflect(t, driver.BackendVFIO, true) }

func labReflect(t *testing.T, backend driver.Backend, msix bool) {
	cfg := qemu.Config{IOMMU: backend == driver.BackendVFIO, Timeout: 15 * time.Minute, Hugepages: 64}
	for _, n := range labNICs {
		cfg.NICs = append(cfg.NICs, qemu.NIC{Model: n.model})
		cfg.Bind = append(cfg.Bind, qemu.Binding{BDF: n.bdf, Driver: backend.Driver()})
	}
	modes := os.Getenv("LAB_MODES")
	nics := labNICs
	if msix {
		nics = labNICs[1:]
		if modes == "" {
			modes = "tasklet,threaded,napi"
		}
	}
	if modes == "" {
		var all []string
		for _, m := range deferral.Modes() {
			all = append(all, m.String())
		}
		modes = strings.Join(all, ",")
	}
	modes = withTopHalves(modes)
	vm := labtest.Start(t, labtest.Options{
		Package: "./driver/e1000",
		Run:     "^TestGuestReflect$",
		VM:      cfg,
		Env:     []string{"LAB_BACKEND=" + backend.String(), "LAB_MODES=" + modes, fmt.Sprintf("LAB_MSIX=%v", msix)},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 14*time.Minute)
	defer cancel()
	for _, n := range nics {
		i := 0
		if n.model == qemu.E1000E {
			i = 1
		}
		for _, mode := range strings.Split(modes, ",") {
			tag := fmt.Sprintf("%s %s", n.bdf, mode)
			rctx, rcancel := context.WithTimeout(ctx, 90*time.Second) // the guest dumps its stacks at 45 s
			_, err := vm.WaitOutput(rctx, 0, "LAB READY "+tag)
			rcancel()
			if err != nil {
				t.Fatalf("%s: %v", tag, err)
			}
			start := time.Now()
			_, _, frames, _ := parseLabMode(t, mode)
			if err := exchange(vm.Peer(i), n.mac, frames, labWindow); err != nil {
				t.Fatalf("%s %v: %v", n.model, mode, err)
			}
			d := time.Since(start)
			t.Logf("%s %s %v: %d frames reflected intact in %v (%.0f frames/s, window %d)",
				n.model, backend, mode, frames, d.Round(time.Millisecond), float64(frames)/d.Seconds(), labWindow)
			if line, err := vm.WaitOutput(ctx, 0, "LAB REGS "+tag); err != nil {
				t.Fatal(err)
			} else {
				t.Logf("%s %s %v: register accesses: %s", n.model, backend, mode, strings.TrimPrefix(line, "LAB REGS "+tag+" "))
			}
			if _, err := vm.WaitOutput(ctx, 0, "LAB DONE "+tag); err != nil {
				t.Fatal(err)
			}
		}
	}
	labtest.Finish(t, vm)
}

// labSrcMAC is the host peer's address in the reflect test.
var labSrcMAC = [6]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}

// labFrame is frame seq of the exchange: a test frame (internal/testframe)
// of 60 to 1059 bytes over 64 flows, to dst.
func labFrame(seq int, dst [6]byte) []byte {
	return testframe.Build(make([]byte, testframe.MaxLen), labFrameOf(seq, dst, labSrcMAC))
}

func labFrameOf(seq int, dst, src [6]byte) testframe.Frame {
	return testframe.Frame{Dst: dst, Src: src, Flow: seq % 64, Seq: uint64(seq), Len: 60 + (seq*37)%1000}
}

// exchange sends n frames with at most window unanswered and checks each
// echo byte for byte: the frame sent, MACs swapped.
func exchange(p *qemu.Peer, mac [6]byte, n, window int) error {
	return exchangeFrom(p, mac, 0, n, window)
}

// exchangeFrom is exchange for sequence numbers [from, to).
func exchangeFrom(p *qemu.Peer, mac [6]byte, from, to, window int) error {
	buf := make([]byte, 4096)
	sbuf := make([]byte, testframe.MaxLen)
	sent, got := from, from
	seen := make([]bool, to)
	for got < to {
		for sent < to && sent-got < window {
			if err := p.Send(testframe.Build(sbuf, labFrameOf(sent, mac, labSrcMAC))); err != nil {
				return err
			}
			sent++
		}
		k, err := p.RecvInto(buf, time.Now().Add(10*time.Second))
		if err != nil {
			return fmt.Errorf("after %d sent, %d reflected: %w", sent-from, got-from, err)
		}
		f := buf[:k]
		fr, ok, err := testframe.Check(f)
		switch {
		case !ok:
			return fmt.Errorf("unexpected frame from the NIC (%d bytes): % x", k, f[:min(k, 48)])
		case err != nil:
			return fmt.Errorf("reflected frame: %w", err)
		case fr.Seq < uint64(from) || fr.Seq >= uint64(to) || seen[fr.Seq]:
			return fmt.Errorf("frame %d reflected twice or out of range [%d, %d)", fr.Seq, from, to)
		}
		if want := labFrameOf(int(fr.Seq), labSrcMAC, mac); fr != want {
			return fmt.Errorf("frame %d came back as %+v, want %+v (the frame sent, MACs swapped)", fr.Seq, fr, want)
		}
		seen[fr.Seq] = true
		got++
	}
	return nil
}

// TestGuestReflect runs in the guest: for each NIC and mode it opens the
// device, reflects labFrames frames, checks the counters and closes it again.
func TestGuestReflect(t *testing.T) {
	labtest.InGuest(t)
	backend, err := driver.ParseBackend(os.Getenv("LAB_BACKEND"))
	if err != nil {
		t.Fatal(err)
	}
	msix := os.Getenv("LAB_MSIX") == "true"
	for _, n := range labNICs {
		if msix && n.model != qemu.E1000E {
			continue
		}
		for _, name := range strings.Split(os.Getenv("LAB_MODES"), ",") {
			guestReflectOnce(t, backend, n.bdf, name, msix)
		}
	}
}

func guestReflectOnce(t *testing.T, backend driver.Backend, bdf string, name string, msix bool) {
	tag := fmt.Sprintf("%s %s", bdf, name)
	mode, th, labFrames, bhCPU := parseLabMode(t, name)
	// A run that never gets ready shows where every goroutine is.
	stuck := time.AfterFunc(45*time.Second, func() {
		buf := make([]byte, 1<<20)
		fmt.Printf("LAB STUCK %s before ready:\n%s\n", tag, buf[:runtime.Stack(buf, true)])
	})
	defer stuck.Stop()
	dev, err := e1000.Open(bdf, e1000.OpenOptions{Access: bus.Access{Backend: backend, CountRegs: true}, Poll: mode == deferral.ModeBusyPoll, NIC: e1000.Options{MSIX: msix}})
	if err != nil {
		t.Fatalf("%s: %v", tag, err)
	}
	count := handler.NewCount()
	port, err := driver.NewPort(dev, driver.Config{Mode: mode, Handler: handler.Chain{count, handler.Reflect{}}, IRQCPU: 0, BHCPU: bhCPU, TopHalf: th})
	if err != nil {
		dev.Close()
		t.Fatalf("%s: %v", tag, err)
	}
	// The pool is over 2 MiB: under UIO it spans hugepages, segmented when
	// they are not physically contiguous.
	t.Logf("%s: %d buffers", tag, dev.Buffers().Len())
	// QEMU's e1000 ignores RX for a second after RCTL is written.
	time.Sleep(1200 * time.Millisecond)
	stuck.Stop()
	fmt.Printf("LAB READY %s\n", tag)
	deadline := time.Now().Add(5 * time.Minute)
	// Register accesses per reflected frame: counted from READY
	// until every frame was handled and had time to leave, polling the
	// handler's software count meanwhile (Port.Stats reads the NIC's
	// statistics registers, which are no part of the packet path).
	acc0 := dev.RegAccesses()
	for count.Counts()[handler.ProtoUDP] < uint64(labFrames) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	acc := dev.RegAccesses().Sub(acc0)
	fmt.Printf("LAB REGS %s reads=%d writes=%d frames=%d regs/frame=%.3f\n", tag, acc.Reads, acc.Writes, labFrames, acc.PerFrame(uint64(labFrames)))
	var st driver.Stats
	for {
		st = port.Stats()
		if st.Processed >= uint64(labFrames) && st.HW.TxPackets >= uint64(labFrames) {
			break
		}
		if time.Now().After(deadline) {
			port.Close()
			t.Fatalf("%s: timed out: %v", tag, &st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	st = port.Stats()
	bm := probeBusMaster(t, tag, bdf, dev)
	if err := port.Close(); err != nil {
		t.Errorf("%s: close: %v", tag, err)
	}
	bm.check(t)
	st2 := port.Stats()
	t.Logf("%s: %v; handoff p50 %v p99 %v over %d", tag, &st2, st2.HandoffP50, st2.HandoffP99, st2.HandoffCount)
	counts := count.Counts()
	switch {
	case port.TopHalf() != th && th != driver.TopHalfDefault:
		t.Errorf("%s: top half %v", tag, port.TopHalf())
	case st.RxPackets != uint64(labFrames) || st.Processed != uint64(labFrames) || st.Dropped() != 0:
		t.Errorf("%s: software RX counters disagree: %v", tag, &st)
	case st.TxPackets != uint64(labFrames) || st.TxDropped != 0:
		t.Errorf("%s: software TX counters disagree: %v", tag, &st)
	case st.HW.RxPackets != uint64(labFrames) || st.HW.TxPackets != uint64(labFrames) || st.HW.RxMissed != 0:
		t.Errorf("%s: hardware counters disagree: %+v", tag, st.HW)
	case counts[handler.ProtoUDP] != uint64(labFrames) || counts[handler.ProtoOther] != 0:
		t.Errorf("%s: protocol counts %v", tag, counts)
	case mode != deferral.ModeBusyPoll && st.IRQs == 0:
		t.Errorf("%s: no interrupts", tag)
	case msix && len(dev.Info().Vectors) != 3:
		t.Errorf("%s: %d MSI-X vectors, want 3", tag, len(dev.Info().Vectors))
	}
	fmt.Printf("LAB DONE %s\n", tag)
}

// labFramesOther is the frames of a mode's run with its other top half: the
// light and the copying top half are both covered in every interrupt mode,
// the default one with labFrames, the other with fewer to keep the test short.
const labFramesOther = 3000

// withTopHalves expands a mode list into "mode/tophalf" entries: each
// interrupt mode with its default top half and with the other one. Entries
// that already name a top half are kept.
func withTopHalves(modes string) string {
	var out []string
	for _, m := range strings.Split(modes, ",") {
		mode, err := deferral.ParseMode(m)
		if strings.Contains(m, "/") || err != nil || mode == deferral.ModeBusyPoll {
			out = append(out, m)
			continue
		}
		def := driver.DefaultTopHalf(mode, false) // the guest side runs IRQCPU 0, BHCPU 1
		other := driver.TopHalfLight
		if def == driver.TopHalfLight {
			other = driver.TopHalfCopy
		}
		out = append(out, m+"/"+def.String(), m+"/"+other.String())
		if mode == deferral.ModeAdaptive {
			// Its bottom half on the interrupt's CPU too: at light load
			// the top half's thread then polls inline.
			out = append(out, m+"/"+def.String()+"@0")
		}
	}
	return strings.Join(out, ",")
}

// parseLabMode reads "mode[/tophalf][@bhcpu]", the frames its run reflects
// and its BHCPU (1 unless given; IRQCPU is 0).
func parseLabMode(t *testing.T, name string) (deferral.Mode, driver.TopHalf, int, int) {
	t.Helper()
	m, rest, _ := strings.Cut(name, "/")
	thName, cpu, placed := strings.Cut(rest, "@")
	mode, err := deferral.ParseMode(m)
	if err != nil {
		t.Fatal(err)
	}
	th, err := driver.ParseTopHalf(thName)
	if err != nil {
		t.Fatal(err)
	}
	bh := 1
	if placed {
		if bh, err = strconv.Atoi(cpu); err != nil {
			t.Fatalf("mode %q: BH CPU: %v", name, err)
		}
	}
	if placed || th != driver.TopHalfDefault && th != driver.DefaultTopHalf(mode, false) {
		return mode, th, labFramesOther, bh
	}
	return mode, th, labFrames, bh
}
