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

// TestLabCLIQueuesIGB runs the real CLI on QEMU's igb (82576) with 2 vCPUs:
// the queue refusals against the real sysfs (exit 2 before the device is
// opened: more queues than the 82576 has, an --irq-cpu list of the wrong
// length), then `uiodrv --queues 2 --irq-cpu 0,1 --mode napi --handler
// reflect --count 2000`: 2,000 frames over 64 flows come back intact, once,
// in flow order, and the summary shows both queues, each on its CPU, with
// frames.
func TestLabCLIQueuesIGB(t *testing.T) {
	labtest.Require(t)
	bin := staticBinary(t)
	const frames = 2000
	cfg := labConfig(bin, qemu.IGB, driver.BackendVFIO, 5*time.Minute,
		[]string{"--dev", labBDF, "--queues", "17", "--irq-cpu", "0,1,0,1,0,1,0,1,0,1,0,1,0,1,0,1,0"},
		[]string{"--dev", labBDF, "--queues", "2", "--irq-cpu", "0"},
		[]string{"--dev", labBDF, "--queues", "2", "--irq-cpu", "0,1", "--mode", "napi", "--handler", "reflect",
			"--count", fmt.Sprint(frames), "--settle", "300ms"},
	)
	cfg.CPUs = 2
	cfg.Output = tWriter{t}
	unlock := labtest.Lock(t)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	vm, err := qemu.StartReady(ctx, cfg, func(err error) { t.Logf("lab: retrying a boot that hung: %v", err) })
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	defer vm.Close()
	if _, err := vm.WaitOutput(ctx, 2, "uiodrv: ready"); err != nil {
		t.Fatal(err)
	}
	flows, err := qemu.NewFlows(64, 200, labMAC, labPeerMAC)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := vm.Peer(0).ExchangeFlows(flows, frames, 4, 32); err != nil {
		t.Fatalf("uiodrv --queues 2: %v", err)
	}
	t.Logf("%d frames over 64 flows reflected intact, in flow order, in %v", frames, time.Since(start).Round(time.Millisecond))
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	for i, want := range []string{
		"--queues 17: 0000:00:03.0 is an 82576, which has 16 queues: use --queues 16 or fewer",
		`--irq-cpu "0" lists 1 CPUs for --queues 2: give one CPU per queue, e.g. --irq-cpu 0,1`,
	} {
		out := strings.Join(res.Output[i], "\n")
		if e := res.Exits[i]; e.Code != exitUsage || !strings.Contains(out, want) || strings.Contains(out, "ready") {
			t.Errorf("command %d: exit %d, want %d and %q:\n%s", i, e.Code, exitUsage, want, out)
		}
	}
	if e := res.Exits[2]; !e.Ended || e.Code != 0 {
		t.Fatalf("uiodrv --queues 2: exit %d %s", e.Code, e.Err)
	}
	rx := queueFrames(t, res.Output[2]) // lab_virtio_mq_test.go
	if rx[0] == 0 || rx[1] == 0 || rx[0]+rx[1] != frames {
		t.Errorf("per-queue frames in the summary: %v, want both > 0 and %d in all:\n%s", rx, frames, strings.Join(res.Output[2], "\n"))
	}
	t.Logf("queue 0 (CPU 0) %d frames, queue 1 (CPU 1) %d frames", rx[0], rx[1])
}
