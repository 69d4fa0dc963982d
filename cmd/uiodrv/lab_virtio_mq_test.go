package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// virtioMQModes are the modes TestLabVirtioNetQueues reflects in with 2
// queues: one bottom half woken by each queue's MSI-X vector, one that polls.
var virtioMQModes = []string{"napi", "busypoll"}

// TestLabVirtioNetQueues: QEMU's virtio-net-pci with mq=on on a netdev of 2
// queues (a multiqueue tap in the test's own network namespace), so the
// device offers 2 queue pairs. One boot: --queues 3 is refused naming the 2
// the device offers, before the device is set up; then, per mode in
// virtioMQModes, `uiodrv --queues 2 --irq-cpu 0,1 --handler reflect`: 2,000
// frames over 64 flows come back intact byte for byte, once, in flow order,
// and the summary shows frames received on both queues (the tun driver
// spreads the host's flows over the netdev's queues, and the device
// receives queue n's frames into RX queue n once the driver has enabled 2
// pairs).
func TestLabVirtioNetQueues(t *testing.T) {
	labtest.Require(t)
	labtest.RequireTap(t)
	bin := staticBinary(t)
	const frames = 2000
	cmds := [][]string{{"--dev", labBDF, "--queues", "3", "--irq-cpu", "0,1,0", "--mode", "napi", "--handler", "reflect", "--count", "10"}}
	for _, m := range virtioMQModes {
		cmds = append(cmds, []string{"--dev", labBDF, "--queues", "2", "--irq-cpu", "0,1", "--mode", m, "--handler", "reflect",
			"--count", fmt.Sprint(frames), "--settle", "300ms"})
	}
	cfg := labConfig(bin, qemu.VirtioNet, driver.BackendVFIO, 6*time.Minute, cmds...)
	cfg.NICs[0].Queues = 2
	cfg.CPUs = 2
	cfg.Output = tWriter{t}
	unlock := labtest.Lock(t)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	vm, err := qemu.StartReady(ctx, cfg, func(err error) { t.Logf("lab: retrying a boot that hung: %v", err) })
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	defer vm.Close()
	for i, m := range virtioMQModes {
		if _, err := vm.WaitOutput(ctx, 1+i, "uiodrv: ready"); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		flows, err := qemu.NewFlows(64, 200, labMAC, labPeerMAC)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := vm.Peer(0).ExchangeFlows(flows, frames, 4, 32); err != nil {
			t.Fatalf("%s, --queues 2: %v", m, err)
		}
		t.Logf("%s: %d frames over 64 flows reflected intact, in flow order, in %v", m, frames, time.Since(start).Round(time.Millisecond))
	}
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	out := strings.Join(res.Output[0], "\n")
	if e := res.Exits[0]; e.Code != 2 || !strings.Contains(out, "--queues 3") || !strings.Contains(out, "offers 2 queue pair(s) (its max_virtqueue_pairs), fewer than the 3 asked") || strings.Contains(out, "ready") {
		t.Errorf("--queues 3: exit %d, want exit 2 naming --queues and the device's 2 queue pairs:\n%s", e.Code, out)
	} else {
		t.Logf("--queues 3 refused, exit %d", e.Code)
	}
	for i, m := range virtioMQModes {
		if e := res.Exits[1+i]; !e.Ended || e.Code != 0 {
			t.Errorf("%s, --queues 2: exit %d %s", m, e.Code, e.Err)
			continue
		}
		rx := queueFrames(t, res.Output[1+i])
		if rx[0] == 0 || rx[1] == 0 || rx[0]+rx[1] != frames {
			t.Errorf("%s: per-queue frames in the summary: %v, want both > 0 and %d in all:\n%s", m, rx, frames, strings.Join(res.Output[1+i], "\n"))
		}
		t.Logf("%s: queue 0 (CPU 0) %d frames, queue 1 (CPU 1) %d frames", m, rx[0], rx[1])
	}
}

// queueFrames reads the per-queue RX counts of a 2-queue run's summary
// ("queue N cpu C: rx F frames, ..."), checking that queue n ran on CPU n.
func queueFrames(t *testing.T, lines []string) [2]uint64 {
	t.Helper()
	var rx [2]uint64
	for _, l := range lines {
		i := strings.Index(l, "queue ")
		if i < 0 {
			continue
		}
		var q, cpu int
		var n uint64
		if _, err := fmt.Sscanf(l[i:], "queue %d cpu %d: rx %d frames", &q, &cpu, &n); err != nil {
			continue
		}
		if q < 0 || q > 1 || cpu != q {
			t.Errorf("summary line %q: queue %d on CPU %d", l, q, cpu)
			continue
		}
		rx[q] = n
	}
	return rx
}
