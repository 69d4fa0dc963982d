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

// The iommufd/cdev backend in the lab: the guest boots the kernel built from
// Debian's source (qemu.KernelSource: iommufd and the VFIO device cdev built
// in), and uiodrv opens the NICs with --vfio-api cdev. make labtest-cdev
// runs these tests (it builds the kernel first); the kernel is staged before
// the lab lock is taken, so that a first build does not hold other boots.

// stageSourceKernel builds or finds the source-built kernel, outside the lab lock.
func stageSourceKernel(t *testing.T) {
	t.Helper()
	start := time.Now()
	k, err := qemu.StageSourceKernel()
	if err != nil {
		t.Fatalf("source kernel: %v", err)
	}
	t.Logf("lab: source kernel %s (%s) staged in %v", k.Version, k.Package, time.Since(start).Round(time.Millisecond))
}

// startLab boots cfg under the lab lock; the VM and the lock are released at the end of the test.
func startLab(t *testing.T, cfg qemu.Config) (*qemu.VM, context.Context) {
	t.Helper()
	cfg.Output = tWriter{t}
	unlock := labtest.Lock(t)
	t.Cleanup(unlock)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	vm, err := qemu.StartReady(ctx, cfg, func(err error) { t.Logf("lab: retrying a boot that hung: %v", err) })
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() { vm.Close() })
	return vm, ctx
}

// reflectIntact sends n frames to command i's uiodrv once it is ready and
// checks that every one comes back intact, byte for byte.
func reflectIntact(t *testing.T, ctx context.Context, vm *qemu.VM, peer, i, n int) {
	t.Helper()
	if _, err := vm.WaitOutput(ctx, i, "uiodrv: ready"); err != nil {
		t.Fatalf("command %d: %v", i, err)
	}
	tr := newTraffic(vm.Peer(peer), 200)
	tr.run(ctx, n/2, 2*time.Second, func(l string) { t.Log("host ", l) }) // n/2 frames/s for 2 s
	if tr.sent.Load() != uint64(n) || tr.intact.Load() != uint64(n) || tr.corrupt.Load() != 0 {
		t.Errorf("command %d: sent %d, back intact %d, altered %d; want %d, %d, 0", i, tr.sent.Load(), tr.intact.Load(), tr.corrupt.Load(), n, n)
	}
}

// expect checks command i's exit status and that its output has every want.
func expect(t *testing.T, res *qemu.Result, i, code int, want ...string) {
	t.Helper()
	out := strings.Join(res.Output[i], "\n")
	if e := res.Exits[i]; !e.Ended || e.Code != code {
		t.Errorf("command %d: exit %d %s, want %d\n%s", i, e.Code, e.Err, code, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("command %d: output lacks %q:\n%s", i, w, out)
		}
	}
}

// TestLabCdev: on the source-built kernel, an e1000 at 03.0 and an e1000e
// at 04.0 on vfio-pci. uiodrv list shows both APIs for both; the e1000
// reflects 1000 frames through the cdev; the e1000e with MSI-X reflects
// 1000; then least privilege: uid 65534 owning only the device cdev fails
// naming /dev/iommu and the fix (exit 1, the device untouched), and owning
// /dev/iommu too it reflects 500 frames intact.
func TestLabCdev(t *testing.T) {
	labtest.Require(t)
	stageSourceKernel(t)
	bin := staticBinary(t)
	const e1000e = "0000:00:04.0"
	cfg := labConfig(bin, qemu.E1000, driver.BackendVFIO, 5*time.Minute,
		[]string{"list"},
		[]string{"--dev", labBDF, "--vfio-api", "cdev", "--mode", "workqueue", "--handler", "reflect", "--count", "1000"},
		[]string{"--dev", e1000e, "--vfio-api", "cdev", "--msix", "--mode", "napi", "--handler", "reflect", "--count", "1000", "--settle", "300ms"},
		[]string{"--dev", labBDF, "--vfio-api", "cdev", "--mode", "napi", "--handler", "reflect", "--count", "500"},
		[]string{"--dev", labBDF, "--vfio-api", "cdev", "--mode", "napi", "--handler", "reflect", "--count", "500"},
	)
	cfg.Kernel = qemu.KernelSource
	// The same MAC as the e1000's, on its own peer: the host's test frames are addressed to labMAC.
	cfg.NICs = append(cfg.NICs, qemu.NIC{Model: qemu.E1000E, MAC: "52:54:00:12:34:56"})
	cfg.Bind = append(cfg.Bind, qemu.Binding{BDF: e1000e, Driver: "vfio-pci"})
	nobody := func(own ...string) *qemu.User {
		return &qemu.User{UID: 65534, GID: 65534, Own: own,
			Rlimits: map[string]qemu.Rlimit{"memlock": {Soft: 64 << 10, Hard: 64 << 20}}}
	}
	// The group nodes stay root's: the cdev path needs none of them.
	cfg.Commands[3].User = nobody("/dev/vfio/devices/vfio*")
	cfg.Commands[4].User = nobody("/dev/vfio/devices/vfio*", "/dev/iommu")
	vm, ctx := startLab(t, cfg)
	reflectIntact(t, ctx, vm, 0, 1, 1000)
	reflectIntact(t, ctx, vm, 1, 2, 1000)
	reflectIntact(t, ctx, vm, 0, 4, 500)
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Logf("lab: kernel %s, boot %v, total %v", res.Kernel, res.Boot.Round(time.Millisecond), res.Total.Round(time.Millisecond))
	expect(t, res, 0, 0, "VFIO-API", labBDF)
	for _, l := range res.Output[0] {
		if (strings.Contains(l, labBDF) || strings.Contains(l, e1000e)) && !strings.Contains(l, "group,cdev") {
			t.Errorf("list: %q does not offer group and cdev", l)
		}
	}
	// The log names the API asked for; the run reflects every frame.
	expect(t, res, 1, 0, `"api": "cdev"`, "--vfio-api cdev", "rx        1000 frames", "tx        1000 frames", "every frame accounted for", "device released")
	expect(t, res, 2, 0, `"api": "cdev"`, "rx        1000 frames", "tx        1000 frames", "every frame accounted for", "device released")
	expect(t, res, 3, exitFailure, "/dev/iommu", "permission denied", "fix: run as root, or give this user /dev/iommu and /dev/vfio/devices/vfioN")
	if out := strings.Join(res.Output[3], "\n"); strings.Contains(out, "ready") {
		t.Errorf("the refused run got as far as the device:\n%s", out)
	}
	expect(t, res, 4, 0, `"api": "cdev"`, "rx        500 frames", "tx        500 frames", "every frame accounted for", "device released")
}

// TestLabCdevQueuesIGB: QEMU's igb (82576) on the source-built kernel with
// 2 vCPUs, --vfio-api cdev --queues 2 --irq-cpu 0,1: 2,000 frames over 64
// flows come back intact, once, in flow order, with frames on both queues.
func TestLabCdevQueuesIGB(t *testing.T) {
	labtest.Require(t)
	stageSourceKernel(t)
	bin := staticBinary(t)
	const frames = 2000
	cfg := labConfig(bin, qemu.IGB, driver.BackendVFIO, 5*time.Minute,
		[]string{"--dev", labBDF, "--vfio-api", "cdev", "--queues", "2", "--irq-cpu", "0,1", "--mode", "napi", "--handler", "reflect",
			"--count", fmt.Sprint(frames), "--settle", "300ms"},
	)
	cfg.Kernel = qemu.KernelSource
	cfg.CPUs = 2
	vm, ctx := startLab(t, cfg)
	if _, err := vm.WaitOutput(ctx, 0, "uiodrv: ready"); err != nil {
		t.Fatal(err)
	}
	flows, err := qemu.NewFlows(64, 200, labMAC, labPeerMAC)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Peer(0).ExchangeFlows(flows, frames, 4, 32); err != nil {
		t.Fatalf("uiodrv --vfio-api cdev --queues 2: %v", err)
	}
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	expect(t, res, 0, 0, `"api": "cdev"`, "every frame accounted for", "device released")
	var rx [2]uint64
	for _, l := range res.Output[0] {
		var q, cpu int
		var n uint64
		if i := strings.Index(l, "queue "); i >= 0 {
			if _, err := fmt.Sscanf(l[i:], "queue %d cpu %d: rx %d frames", &q, &cpu, &n); err == nil && q >= 0 && q < 2 && cpu == q {
				rx[q] = n
			}
		}
	}
	if rx[0] == 0 || rx[1] == 0 || rx[0]+rx[1] != frames {
		t.Errorf("per-queue frames in the summary: %v, want both > 0 and %d in all:\n%s", rx, frames, strings.Join(res.Output[0], "\n"))
	}
	t.Logf("cdev igb: queue 0 %d frames, queue 1 %d frames", rx[0], rx[1])
}

// TestLabCdevAutoDebian: on Debian's own kernel (no iommufd), --vfio-api
// auto takes the group and says why; --vfio-api cdev fails naming the fix
// (exit 1, the device untouched); uiodrv list offers the group only.
func TestLabCdevAutoDebian(t *testing.T) {
	labtest.Require(t)
	bin := staticBinary(t)
	cfg := labConfig(bin, qemu.E1000, driver.BackendVFIO, 4*time.Minute,
		[]string{"list"},
		[]string{"--dev", labBDF, "--vfio-api", "cdev", "--mode", "napi", "--handler", "reflect", "--count", "200"},
		[]string{"--dev", labBDF, "--mode", "napi", "--handler", "reflect", "--count", "200"},
	)
	vm, ctx := startLab(t, cfg)
	reflectIntact(t, ctx, vm, 0, 2, 200)
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Logf("lab: kernel %s", res.Kernel)
	expect(t, res, 0, 0, "VFIO-API")
	for _, l := range res.Output[0] {
		if strings.Contains(l, labBDF) && (!strings.Contains(l, " group ") || strings.Contains(l, "cdev")) {
			t.Errorf("list: %q should offer the group only", l)
		}
	}
	expect(t, res, 1, exitFailure, "/dev/iommu: this kernel has no iommufd", "fix: use --vfio-api group")
	if out := strings.Join(res.Output[1], "\n"); strings.Contains(out, "ready") {
		t.Errorf("the refused run got as far as the device:\n%s", out)
	}
	expect(t, res, 2, 0, `"api": "group"`, "no /dev/iommu (kernel without iommufd)", "rx        200 frames", "every frame accounted for")
}
