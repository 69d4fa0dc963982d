package igb_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/handler"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// The per-queue lab: QEMU's igb (82576) through VFIO, 2 queues with RSS on a
// 2-vCPU guest, queue q's vector, top half and bottom half on vCPU q.
const (
	queuesFrames    = 10000 // distinct frames per mode
	queuesFlows     = 64    // distinct 5-tuples
	queuesPerFlow   = 4     // consecutive frames of one flow, so several of a flow are in flight
	queuesWindow    = 64    // frames in flight at most
	queuesFrameSize = 128
)

var (
	queuesCPUs = []int{0, 1}
	queuesMAC  = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56} // QEMU's default for the first NIC
	queuesPeer = [6]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}
)

// TestLabQueuesIGB runs a driver.Port on the igb with 2 queues in every
// mode, one after another in one boot. Per mode the host sends 10,000
// distinct frames over 64 flows (4 consecutive frames per flow, at most 64
// in flight) and checks that each comes back once, byte for byte (MACs
// swapped by the Reflect handler), with no flow reordered; the guest
// checks that both queues carried traffic and that each queue's top-half
// and bottom-half threads are pinned to, and last ran on, that queue's
// vCPU (drivertest.CheckQueueThreads), and prints the per-queue counters,
// which the host checks too. LAB_MODES (e.g. "tasklet,threaded/copy")
// picks modes and top halves.
func TestLabQueuesIGB(t *testing.T) {
	modes := os.Getenv("LAB_MODES")
	if modes == "" {
		var all []string
		for _, m := range deferral.Modes() {
			all = append(all, m.String())
		}
		modes = strings.Join(all, ",")
	}
	vm := labtest.Start(t, labtest.Options{
		Package: "./driver/igb",
		Run:     "^TestGuestQueuesIGB$",
		VM: qemu.Config{
			IOMMU: true, CPUs: 2, Timeout: 12 * time.Minute, Hugepages: 16,
			NICs: []qemu.NIC{{Model: qemu.IGB}},
			Bind: []qemu.Binding{{BDF: "0000:00:03.0", Driver: "vfio-pci"}},
		},
		Env: []string{"LAB_MODES=" + modes},
	})
	for _, name := range strings.Split(modes, ",") {
		// Per mode, so a hang fails within minutes and labtest asks the
		// guest where it hung while the guest is still up.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if _, err := vm.WaitOutput(ctx, 0, "LAB READY igb "+name+" ."); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := exchangeFlows(vm.Peer(0)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := time.Since(start)
		line, err := vm.WaitOutput(ctx, 0, "LAB DONE igb "+name+" ")
		if err != nil {
			t.Fatal(err)
		}
		var rx0, rx1, irq0, irq1 uint64
		if _, err := fmt.Sscanf(line[strings.Index(line, "rx="):], "rx=%d,%d irqs=%d,%d", &rx0, &rx1, &irq0, &irq1); err != nil {
			t.Fatalf("%s: done line %q: %v", name, line, err)
		}
		if rx0 == 0 || rx1 == 0 || rx0+rx1 != queuesFrames {
			t.Errorf("%s: frames per queue %d and %d, want both > 0 and %d in all", name, rx0, rx1, queuesFrames)
		}
		t.Logf("igb 2 queues %s: %d frames over %d flows reflected intact, in flow order, in %v (%.0f frames/s); queue 0 %d frames %d irqs, queue 1 %d frames %d irqs",
			name, queuesFrames, queuesFlows, d.Round(time.Millisecond), float64(queuesFrames)/d.Seconds(), rx0, irq0, rx1, irq1)
	}
	labtest.Finish(t, vm)
}

// exchangeFlows sends queuesFrames flow frames with at most queuesWindow
// unanswered and checks each echo: intact, once, in its flow's order.
func exchangeFlows(p *qemu.Peer) error {
	flows, err := qemu.NewFlows(queuesFlows, queuesFrameSize, queuesMAC, queuesPeer)
	if err != nil {
		return err
	}
	return p.ExchangeFlows(flows, queuesFrames, queuesPerFlow, queuesWindow)
}

// TestGuestQueuesIGB runs in the guest: per mode it opens the igb with 2
// queues, runs a reflecting Port with queue q on vCPU q, waits for the
// host's frames, checks the threads and the counters, and closes it.
func TestGuestQueuesIGB(t *testing.T) {
	labtest.InGuest(t)
	for _, name := range strings.Split(os.Getenv("LAB_MODES"), ",") {
		guestQueuesOnce(t, name)
	}
}

func guestQueuesOnce(t *testing.T, name string) {
	ms, ths, _ := strings.Cut(name, "/")
	mode, err := deferral.ParseMode(ms)
	if err != nil {
		t.Fatal(err)
	}
	th, err := driver.ParseTopHalf(ths)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := igb.Open("0000:00:03.0", igb.OpenOptions{Poll: mode == deferral.ModeBusyPoll, NIC: igb.Options{Queues: 2}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	count := handler.NewCount()
	port, err := driver.NewPort(dev, driver.Config{Mode: mode, Handler: handler.Chain{count, handler.Reflect{}}, IRQCPUs: queuesCPUs, TopHalf: th})
	if err != nil {
		dev.Close()
		t.Fatalf("%s: %v", name, err)
	}
	defer port.Close()
	fmt.Printf("LAB READY igb %s .\n", name)
	var st driver.Stats
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		st = port.Stats()
		if st.Processed >= queuesFrames && st.HW.TxPackets >= queuesFrames {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out: %v", name, &st)
		}
	}
	lines, terr := drivertest.CheckQueueThreads(mode, queuesCPUs)
	for _, l := range lines {
		t.Logf("%s: %s", name, l)
	}
	if terr != nil {
		t.Errorf("%s: %v", name, terr)
	}
	time.Sleep(100 * time.Millisecond)
	st = port.Stats()
	if err := port.Close(); err != nil {
		t.Errorf("%s: close: %v", name, err)
	}
	t.Logf("%s (top half %v): %v", name, port.TopHalf(), &st)
	q := st.Queues
	switch {
	case st.RxPackets != queuesFrames || st.Processed != queuesFrames || st.Dropped() != 0:
		t.Errorf("%s: RX counters: %v", name, &st)
	case st.TxPackets != queuesFrames || st.TxDropped != 0 || st.HW.TxPackets != queuesFrames:
		t.Errorf("%s: TX counters: %v", name, &st)
	case len(q) != 2 || q[0].RxPackets == 0 || q[1].RxPackets == 0:
		t.Errorf("%s: a queue carried no traffic: %+v", name, q)
	case q[0].CPU != 0 || q[1].CPU != 1:
		t.Errorf("%s: queues on CPUs %d and %d", name, q[0].CPU, q[1].CPU)
	case mode != deferral.ModeBusyPoll && (q[0].IRQs == 0 || q[1].IRQs == 0):
		t.Errorf("%s: a queue took no interrupt: %+v", name, q)
	case count.Counts()[handler.ProtoUDP] != queuesFrames:
		t.Errorf("%s: protocol counts %v", name, count.Counts())
	}
	fmt.Printf("LAB DONE igb %s rx=%d,%d irqs=%d,%d\n", name, q[0].RxPackets, q[1].RxPackets, q[0].IRQs, q[1].IRQs)
}
