package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// uiodrv on the lab's newer kernels (qemu.LabKernels): Debian sid's 7.x and
// Debian 13's PREEMPT_RT 6.12, sid's PREEMPT_RT 7.x. make labtest-kernels runs these tests (make
// labtest skips them); each kernel is staged before the lab lock is taken.

func TestKernelFlag(t *testing.T) {
	for _, name := range qemu.KernelNames() {
		if _, err := labKernel(name); err != nil {
			t.Errorf("--kernel %s: %v", name, err)
		}
	}
	_, err := labKernel("7.2")
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "6.1, 6.12, 6.12-rt, 7.x, 7.x-rt") {
		t.Errorf("--kernel 7.2: %v; want a usage error listing the names", err)
	}
}

// stageLabKernel finds or downloads a catalogue kernel, outside the lab lock.
func stageLabKernel(t *testing.T, name string) qemu.KernelSeries {
	t.Helper()
	lk, err := qemu.KernelByName(name)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	k, err := qemu.StageKernelSeries(lk.Series)
	if err != nil {
		t.Fatalf("lab kernel %s: %v", name, err)
	}
	t.Logf("lab: kernel %s is %s (%s), staged in %v", name, k.Version, k.Package, time.Since(start).Round(time.Millisecond))
	return lk.Series
}

// kernelReflect: on the named kernel, an e1000 at 03.0 reflects 1000 frames
// byte for byte; with msix, an e1000e at 04.0 with MSI-X reflects 1000 more.
func kernelReflect(t *testing.T, name string, msix bool) {
	labtest.Require(t)
	series := stageLabKernel(t, name)
	bin := staticBinary(t)
	const e1000e = "0000:00:04.0"
	cmds := [][]string{{"--dev", labBDF, "--mode", "workqueue", "--handler", "reflect", "--count", "1000"}}
	if msix {
		cmds = append(cmds, []string{"--dev", e1000e, "--msix", "--mode", "napi", "--handler", "reflect", "--count", "1000", "--settle", "300ms"})
	}
	cfg := labConfig(bin, qemu.E1000, driver.BackendVFIO, 5*time.Minute, cmds...)
	cfg.Kernel = series
	if msix {
		cfg.NICs = append(cfg.NICs, qemu.NIC{Model: qemu.E1000E, MAC: "52:54:00:12:34:56"})
		cfg.Bind = append(cfg.Bind, qemu.Binding{BDF: e1000e, Driver: "vfio-pci"})
	}
	vm, ctx := startLab(t, cfg)
	reflectIntact(t, ctx, vm, 0, 0, 1000)
	if msix {
		reflectIntact(t, ctx, vm, 1, 1, 1000)
	}
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Logf("lab: kernel %s, boot %v, total %v", res.Kernel, res.Boot.Round(time.Millisecond), res.Total.Round(time.Millisecond))
	for i := range cmds {
		expect(t, res, i, 0, "rx        1000 frames", "tx        1000 frames", "every frame accounted for", "device released")
	}
	if msix && !strings.Contains(strings.Join(res.Output[1], "\n"), `"vectors": 3`) {
		t.Errorf("e1000e: not up with 3 MSI-X vectors:\n%s", strings.Join(res.Output[1], "\n"))
	}
}

// TestLabKernels7: e1000 reflect and e1000e with MSI-X on sid's 7.x.
func TestLabKernels7(t *testing.T) { kernelReflect(t, "7.x", true) }

// TestLabKernels7RT: e1000 reflect on sid's PREEMPT_RT 7.x.
func TestLabKernels7RT(t *testing.T) { kernelReflect(t, "7.x-rt", false) }

// TestLabKernels612RT: e1000 reflect on Debian 13's PREEMPT_RT 6.12.
func TestLabKernels612RT(t *testing.T) { kernelReflect(t, "6.12-rt", false) }

// TestLabKernels7IGB: QEMU's igb on sid's 7.x with 2 vCPUs, --queues 2
// --irq-cpu 0,1: 2,000 frames over 64 flows come back intact, once, in flow
// order, with frames on both queues.
func TestLabKernels7IGB(t *testing.T) {
	labtest.Require(t)
	series := stageLabKernel(t, "7.x")
	bin := staticBinary(t)
	const frames = 2000
	cfg := labConfig(bin, qemu.IGB, driver.BackendVFIO, 5*time.Minute,
		[]string{"--dev", labBDF, "--queues", "2", "--irq-cpu", "0,1", "--mode", "napi", "--handler", "reflect",
			"--count", fmt.Sprint(frames), "--settle", "300ms"},
	)
	cfg.Kernel = series
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
		t.Fatalf("uiodrv --queues 2: %v", err)
	}
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Logf("lab: kernel %s, boot %v, total %v", res.Kernel, res.Boot.Round(time.Millisecond), res.Total.Round(time.Millisecond))
	expect(t, res, 0, 0, "every frame accounted for", "device released")
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
	t.Logf("igb on %s: queue 0 %d frames, queue 1 %d frames", res.Kernel, rx[0], rx[1])
}
