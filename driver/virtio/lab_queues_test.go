package virtio_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv"
	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/virtio"
	"github.com/uiodrv/uiodrv/handler"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// The 2-queue lab: QEMU's virtio-net-pci with mq=on on a netdev of 2 queues
// (qemu.NIC.Queues: a multiqueue tap in the test's own network namespace),
// so that the device offers 2 queue pairs; queue q on vCPU q.
const (
	mqFrames  = 2000 // distinct frames per mode
	mqFlows   = 64   // distinct 5-tuples, which the tun driver spreads over the 2 netdev queues
	mqPerFlow = 4    // consecutive frames of one flow, so several of a flow are in flight
	mqWindow  = 32   // frames in flight at most
	mqSize    = 128
)

var (
	mqMAC  = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56} // the lab's first NIC
	mqPeer = [6]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}
)

// TestLabQueuesVirtio opens virtio-net through the public path
// (uiodrv.Open, the registry) in one boot: 3 queues are refused naming the
// device's 2 queue pairs; then, in every mode, a port of 2 queues reflects
// 2,000 frames over 64 flows, which come back once, byte for byte (MACs
// swapped), with no flow reordered, and the per-queue counters show frames
// received on both queues and all of them transmitted.
func TestLabQueuesVirtio(t *testing.T) {
	labtest.Require(t)
	labtest.RequireTap(t)
	var modes []string
	for _, m := range deferral.Modes() {
		modes = append(modes, m.String())
	}
	vm := labtest.Start(t, labtest.Options{
		Package: "./driver/virtio",
		Run:     "^TestGuestQueuesVirtio$",
		VM: qemu.Config{
			IOMMU: true, CPUs: 2, Timeout: 8 * time.Minute,
			NICs: []qemu.NIC{{Model: qemu.VirtioNet, Queues: 2}},
			Bind: []qemu.Binding{{BDF: "0000:00:03.0", Driver: "vfio-pci"}},
		},
		Env: []string{"LAB_MODES=" + strings.Join(modes, ",")},
	})
	for _, name := range modes {
		// Per mode, so a hang fails within minutes and labtest asks the
		// guest where it hung while the guest is still up.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if _, err := vm.WaitOutput(ctx, 0, "LAB READY virtio "+name+" ."); err != nil {
			t.Fatal(err)
		}
		flows, err := qemu.NewFlows(mqFlows, mqSize, mqMAC, mqPeer)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := vm.Peer(0).ExchangeFlows(flows, mqFrames, mqPerFlow, mqWindow); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := time.Since(start)
		line, err := vm.WaitOutput(ctx, 0, "LAB DONE virtio "+name+" ")
		if err != nil {
			t.Fatal(err)
		}
		var rx0, rx1 uint64
		if _, err := fmt.Sscanf(line[strings.Index(line, "rx="):], "rx=%d,%d", &rx0, &rx1); err != nil {
			t.Fatalf("%s: done line %q: %v", name, line, err)
		}
		if rx0 == 0 || rx1 == 0 || rx0+rx1 != mqFrames {
			t.Errorf("%s: frames per queue %d and %d, want both > 0 and %d in all", name, rx0, rx1, mqFrames)
		}
		t.Logf("virtio-net 2 queues %s: %d frames over %d flows reflected intact, in flow order, in %v; queue 0 %d frames, queue 1 %d",
			name, mqFrames, mqFlows, d.Round(time.Millisecond), rx0, rx1)
	}
	labtest.Finish(t, vm)
}

// TestGuestQueuesVirtio runs in the guest: the refusal, then per mode a
// reflecting port of 2 queues until the host's frames went back out.
func TestGuestQueuesVirtio(t *testing.T) {
	labtest.InGuest(t)
	const bdf = "0000:00:03.0"
	_, err := uiodrv.Open(bdf, uiodrv.Config{Device: driver.OpenOptions{Queues: 3}, CPUs: []int{0, 1, 0}})
	if !errors.Is(err, virtio.ErrBadOptions) || !strings.Contains(err.Error(), "offers 2 queue pair(s) (its max_virtqueue_pairs), fewer than the 3 asked") {
		t.Fatalf("Open with 3 queues: %v, want ErrBadOptions naming the device's 2 queue pairs", err)
	}
	t.Logf("3 queues refused: %v", err)
	for _, name := range strings.Split(os.Getenv("LAB_MODES"), ",") {
		guestQueuesOnce(t, bdf, name)
	}
}

func guestQueuesOnce(t *testing.T, bdf, name string) {
	mode, err := deferral.ParseMode(name)
	if err != nil {
		t.Fatal(err)
	}
	port, err := uiodrv.Open(bdf, uiodrv.Config{Mode: mode, Handler: handler.Reflect{}, CPUs: []int{0, 1},
		Device: driver.OpenOptions{Queues: 2}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer port.Close()
	fmt.Printf("LAB READY virtio %s .\n", name)
	var st driver.Stats
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		st = port.Stats()
		if st.TxPackets >= mqFrames {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d frames received, %d transmitted after 2 min, want %d", name, st.RxPackets, st.TxPackets, mqFrames)
		}
	}
	if len(st.Queues) != 2 {
		t.Fatalf("%s: %d queues in the stats", name, len(st.Queues))
	}
	q0, q1 := st.Queues[0], st.Queues[1]
	if q0.RxPackets != q0.TxPackets || q1.RxPackets != q1.TxPackets {
		t.Errorf("%s: queue 0 rx %d tx %d, queue 1 rx %d tx %d: a reflected frame leaves by the queue it came in on",
			name, q0.RxPackets, q0.TxPackets, q1.RxPackets, q1.TxPackets)
	}
	fmt.Printf("LAB DONE virtio %s rx=%d,%d irqs=%d,%d\n", name, q0.RxPackets, q1.RxPackets, q0.IRQs, q1.IRQs)
}
