package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// virtioModes are the modes TestLabVirtioNet reflects in, one run each.
var virtioModes = []string{"napi", "tasklet", "threaded", "workqueue", "busypoll", "adaptive"}

// TestLabVirtioNet: QEMU's virtio-net-pci (modern only, behind the vIOMMU
// with ACCESS_PLATFORM) driven through the registry, one boot: a reflect run
// of 500 frames in each mode, then one as an unprivileged user, each frame
// checked byte for byte (internal/testframe), none altered, lost or
// duplicated; then --queues 2, which the device (one netdev queue, so one
// queue pair even with mq=on) refuses before DRIVER_OK.
func TestLabVirtioNet(t *testing.T) {
	labtest.Require(t)
	bin := staticBinary(t)
	const frames = 500
	var cmds [][]string
	for _, m := range virtioModes {
		cmds = append(cmds, []string{"--dev", labBDF, "--mode", m, "--handler", "reflect", "--count", "500"})
	}
	cmds = append(cmds,
		[]string{"--dev", labBDF, "--mode", "threaded", "--handler", "reflect", "--count", "500"}, // as nobody
		[]string{"--dev", labBDF, "--queues", "2", "--irq-cpu", "0,1", "--mode", "napi", "--handler", "reflect", "--count", "10"},
	)
	cfg := labConfig(bin, qemu.VirtioNet, driver.BackendVFIO, 8*time.Minute, cmds...)
	nobody := len(virtioModes)
	cfg.Commands[nobody].User = &qemu.User{UID: 65534, GID: 65534, Own: []string{"/dev/vfio/[0-9]*"},
		Rlimits: map[string]qemu.Rlimit{"memlock": {Soft: 64 << 10, Hard: 64 << 20}, "rtprio": {Soft: 50, Hard: 50}}}
	cfg.CPUs = 2
	cfg.Output = tWriter{t}
	unlock := labtest.Lock(t)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Minute)
	defer cancel()
	vm, err := qemu.StartReady(ctx, cfg, func(err error) { t.Logf("lab: retrying a boot that hung: %v", err) })
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	defer vm.Close()
	for i := 0; i <= nobody; i++ {
		name := "nobody"
		if i < nobody {
			name = virtioModes[i]
		}
		if _, err := vm.WaitOutput(ctx, i, "uiodrv: ready"); err != nil {
			t.Fatalf("run %d (%s): %v", i, name, err)
		}
		tr := newTraffic(vm.Peer(0), 200)
		start := time.Now()
		tr.run(ctx, frames, time.Second, func(l string) { t.Log("host ", l) })
		if sent := tr.sent.Load(); sent != frames || tr.intact.Load() != sent || tr.corrupt.Load() != 0 || tr.dup.Load() != 0 {
			t.Errorf("%s: sent %d, reflected intact %d, altered %d, duplicated %d; want %d, %d, 0, 0",
				name, sent, tr.intact.Load(), tr.corrupt.Load(), tr.dup.Load(), frames, frames)
		} else {
			t.Logf("%s: %d frames reflected intact in %v", name, frames, time.Since(start).Round(time.Millisecond))
		}
	}
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	for i := 0; i <= nobody; i++ {
		out := strings.Join(res.Output[i], "\n")
		if e := res.Exits[i]; !e.Ended || e.Code != 0 {
			t.Errorf("run %d: exit %d %s", i, e.Code, e.Err)
		}
		if !strings.Contains(out, "uiodrv: ready on "+labBDF+" (virtio-net") {
			t.Errorf("run %d: the guest does not report virtio-net ready on %s", i, labBDF)
		}
	}
	q2 := len(cmds) - 1
	out := strings.Join(res.Output[q2], "\n")
	if e := res.Exits[q2]; e.Code == 0 || !strings.Contains(out, "offers 1 queue pair") || strings.Contains(out, "ready") {
		t.Errorf("--queues 2: exit %d, want a refusal naming the device's one queue pair:\n%s", e.Code, out)
	}
}

// TestLabVirtioNetCLI: 'uiodrv lab --nic virtio-net-pci', the whole lab
// command, finds the family through the registry and reflects every frame
// intact.
func TestLabVirtioNetCLI(t *testing.T) {
	f := &labFlags{nic: string(qemu.VirtioNet), mode: "napi", backend: "vfio", rate: 500, duration: 3 * time.Second,
		size: 200, kernel: "stable"}
	out, err := labRun(t, f)
	if err != nil {
		t.Fatalf("uiodrv lab --nic virtio-net-pci: %v", err)
	}
	tr := f.traffic
	if sent := tr.sent.Load(); sent != 1500 || tr.intact.Load() != sent || tr.corrupt.Load() != 0 || tr.dup.Load() != 0 {
		t.Fatalf("sent %d, reflected intact %d, altered %d, duplicated %d; want 1500, 1500, 0, 0",
			sent, tr.intact.Load(), tr.corrupt.Load(), tr.dup.Load())
	}
	if !strings.Contains(out, "uiodrv: ready on "+labBDF+" (virtio-net ") {
		t.Errorf("the guest does not report virtio-net ready on %s", labBDF)
	}
}
