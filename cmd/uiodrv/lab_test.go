package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/internal/testframe"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// staticBinary builds the static uiodrv once per test process.
func staticBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "uiodrv-cli-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "uiodrv")
		binErr = qemu.BuildStatic("./cmd/uiodrv", binPath)
	})
	if binErr != nil {
		t.Fatalf("build static uiodrv: %v", binErr)
	}
	return binPath
}

// TestLabCLI runs the real CLI end to end, as /bin/uiodrv under the lab's
// own init: a run that reflects exactly --count 1000 frames and stops by
// itself; a run stopped by SIGTERM in the middle of traffic, which must exit
// 0 with its summary; and a third run on the same device, which can only
// succeed if the second released everything.
func TestLabCLI(t *testing.T) {
	labtest.Require(t)
	bin := staticBinary(t)
	cfg := labConfig(bin, qemu.E1000, driver.BackendVFIO, 5*time.Minute,
		[]string{"--dev", labBDF, "--mode", "workqueue", "--handler", "reflect", "--count", "1000", "--stats-every", "1s"},
		[]string{"--dev", labBDF, "--mode", "threaded", "--handler", "reflect", "--stats-every", "1s"},
		[]string{"--dev", labBDF, "--mode", "napi", "--handler", "count", "--count", "100"},
		[]string{"pktgen", "--dev", labBDF, "--mode", "tasklet", "--rate", "1000", "--size", "100", "--count", "300",
			"--dst", "02:75:69:6f:00:01"},
		// 4 and 5: as an unprivileged user (below).
		[]string{"--dev", labBDF, "--mode", "threaded", "--handler", "reflect"},
		[]string{"--dev", labBDF, "--mode", "threaded", "--handler", "reflect", "--count", "500"},
	)
	// Least privilege: uid/gid 65534 with the VFIO group node its own, a
	// real-time limit for the threaded mode's SCHED_FIFO 50 IRQ thread, and
	// RLIMIT_MEMLOCK: run 4 has 64 KiB hard (too little: it must fail, naming
	// the limit), run 5 a soft limit of 64 KiB under a 64 MiB hard one, which
	// uiodrv raises itself.
	nobody := func(memSoft, memHard uint64) *qemu.User {
		return &qemu.User{UID: 65534, GID: 65534, Own: []string{"/dev/vfio/[0-9]*"},
			Rlimits: map[string]qemu.Rlimit{"memlock": {Soft: memSoft, Hard: memHard}, "rtprio": {Soft: 50, Hard: 50}}}
	}
	cfg.Commands[4].User = nobody(64<<10, 64<<10)
	cfg.Commands[5].User = nobody(64<<10, 64<<20)
	cfg.Output = tWriter{t}
	unlock := labtest.Lock(t)
	defer unlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	vm, err := qemu.StartReady(ctx, cfg, func(err error) { t.Logf("lab: retrying a boot that hung: %v", err) })
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	defer vm.Close()

	// 1. --count 1000: exactly 1000 frames, all back intact, then exit by itself.
	if _, err := vm.WaitOutput(ctx, 0, "uiodrv: ready"); err != nil {
		t.Fatal(err)
	}
	tr := newTraffic(vm.Peer(0), 200)
	tr.run(ctx, 500, 2*time.Second, func(l string) { t.Log("host ", l) })
	if tr.sent.Load() != 1000 || tr.intact.Load() != 1000 || tr.corrupt.Load() != 0 {
		t.Errorf("count run: sent %d, back intact %d, altered %d; want 1000, 1000, 0", tr.sent.Load(), tr.intact.Load(), tr.corrupt.Load())
	}

	// 2. SIGTERM in the middle of traffic.
	if _, err := vm.WaitOutput(ctx, 1, "uiodrv: ready"); err != nil {
		t.Fatal(err)
	}
	// The guest runs its commands back to back without waiting for the host,
	// so this traffic must stop as soon as run 2 is over: left running (its
	// 3 s, then up to 2 s waiting for reflections that no longer come), it
	// feeds run 3 and its receiver swallows the frames pktgen sends in step 4.
	tr2 := newTraffic(vm.Peer(0), 200)
	ctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr2.run(ctx2, 500, 3*time.Second, func(l string) { t.Log("host ", l) })
	}()
	time.Sleep(1500 * time.Millisecond)
	if err := vm.Signal(1, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.WaitOutput(ctx, 1, "device released"); err != nil {
		t.Fatal(err)
	}
	cancel2()
	<-done
	if tr2.intact.Load() == 0 {
		t.Errorf("SIGTERM run reflected nothing before the signal")
	}

	// 3. The same device again: only possible if run 2 released it.
	if _, err := vm.WaitOutput(ctx, 2, "uiodrv: ready"); err != nil {
		t.Fatal(err)
	}
	// Send only: a receiver here would swallow the pktgen frames of step 4.
	tr3 := newTraffic(vm.Peer(0), 100)
	fbuf := make([]byte, 2048)
	for i := range 200 {
		if err := vm.Peer(0).Send(tr3.frame(fbuf, uint32(i), 0)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// 4. pktgen: 300 numbered frames arrive at the host peer.
	if _, err := vm.WaitOutput(ctx, 3, "pktgen ready"); err != nil {
		t.Fatal(err)
	}
	got := map[uint32]bool{}
	buf := make([]byte, 2048)
	for len(got) < 300 {
		n, err := vm.Peer(0).RecvInto(buf, time.Now().Add(10*time.Second))
		if err != nil {
			t.Errorf("pktgen: %d of 300 frames received: %v", len(got), err)
			break
		}
		// Test frames, checked byte for byte (testframe.Check), from the
		// guest NIC to the host peer (--dst), on pktgen's flows.
		if fr, ok, err := testframe.Check(buf[:n]); ok && err == nil && fr.Len == 100 && fr.Seq < 300 &&
			fr.Flow == int(fr.Seq%pktgenFlows) && fr.Src == labMAC && fr.Dst == labPeerMAC {
			got[uint32(fr.Seq)] = true
		} else {
			t.Logf("pktgen: unexpected frame (%d bytes): % x", n, buf[:min(n, 32)])
		}
	}

	// 5. Unprivileged: 500 frames, all back intact.
	if _, err := vm.WaitOutput(ctx, 5, "uiodrv: ready"); err != nil {
		t.Fatal(err)
	}
	tr5 := newTraffic(vm.Peer(0), 200)
	tr5.run(ctx, 500, time.Second, func(l string) { t.Log("host ", l) })
	if tr5.sent.Load() != 500 || tr5.intact.Load() != 500 || tr5.corrupt.Load() != 0 {
		t.Errorf("unprivileged run: sent %d, back intact %d, altered %d; want 500, 500, 0", tr5.sent.Load(), tr5.intact.Load(), tr5.corrupt.Load())
	}

	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Logf("lab: kernel %s, boot %v, total %v (test %v)", res.Kernel, res.Boot.Round(time.Millisecond),
		res.Total.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	want := []struct {
		stop  string
		lines []string
	}{
		{"stopped by count", []string{"rx        1000 frames", "tx        1000 frames", "every frame accounted for", "device released"}},
		{"stopped by signal", []string{"every frame accounted for", "device released", "rx "}},
		{"stopped by count", []string{"every frame accounted for", "device released"}},
		{"stopped by count", []string{"sent      300 frames of 100 bytes", "NIC tx_good 300", "device released"}},
		{"RLIMIT_MEMLOCK too low", []string{"RLIMIT_MEMLOCK is 64 KiB", "fix: raise RLIMIT_MEMLOCK"}},
		{"stopped by count", []string{"rx        500 frames", "tx        500 frames", "every frame accounted for", "device released"}},
	}
	for i, w := range want {
		ex := res.Exits[i]
		if i == 4 { // the memlock refusal: exit 1
			out := strings.Join(res.Output[i], "\n")
			if !ex.Ended || ex.Code != 1 {
				t.Errorf("run %d: exit %d %s, want 1\n%s", i, ex.Code, ex.Err, out)
			}
			for _, s := range append([]string{w.stop}, w.lines...) {
				if !strings.Contains(out, s) {
					t.Errorf("run %d: output lacks %q:\n%s", i, s, out)
				}
			}
			continue
		}
		out := strings.Join(res.Output[i], "\n")
		if !ex.Ended || ex.Code != 0 {
			t.Errorf("run %d: exit %d %s, want 0\n%s", i, ex.Code, ex.Err, out)
			continue
		}
		for _, s := range append([]string{w.stop}, w.lines...) {
			if !strings.Contains(out, s) {
				t.Errorf("run %d: output lacks %q:\n%s", i, s, out)
			}
		}
	}
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// The error lab tests boot with /bin/uiodrv and this package's test binary;
// TestGuestCLIErrors runs uiodrv against real misconfigurations and checks
// exit statuses, messages and that nothing changed.

func TestLabBind(t *testing.T) {
	labtest.Require(t)
	bin := staticBinary(t)
	const dev, ahci = "0000:00:04.0", "0000:00:1f.2"
	cfg := labConfig(bin, qemu.E1000, driver.BackendVFIO, 5*time.Minute,
		[]string{"list"},
		[]string{"bind", "--dev", dev},
		[]string{"list"},
		[]string{"--dev", dev, "--mode", "softirq", "--duration", "2s", "--stats-every", "1s"},
		[]string{"unbind", "--dev", dev},
		[]string{"list"},
		// q35's ICH9 AHCI controller, on the kernel's ahci driver: refused.
		[]string{"bind", "--dev", ahci},
		[]string{"bind", "--dev", ahci, "--driver", "uio_pci_generic"},
		[]string{"list", "--all"},
	)
	cfg.NICs = append(cfg.NICs, qemu.NIC{Model: qemu.E1000})
	cfg.Modules = []string{"e1000", "ahci"}
	cfg.Output = tWriter{t}
	unlock := labtest.Lock(t)
	defer unlock()
	start := time.Now()
	res, err := qemu.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Logf("lab: total %v (test %v)", res.Total.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	want := [][]string{
		{"82540EM Gigabit Ethernet Controller (e1000) [8086:100e]", "eth1", "after bind: 82540EM (uiodrv bind --dev " + dev + ")"},
		{dev + ": e1000 -> vfio-pci (previous driver recorded in /run/uiodrv/" + dev + ".driver)"},
		{"vfio-pci", "yes: 82540EM, --backend vfio"},
		{"stopped by duration", "device released"},
		{dev + ": vfio-pci -> e1000 (restored)"},
		{"after bind: 82540EM (uiodrv bind --dev " + dev + ")"},
		{ahci + " is a SATA controller (class 0106): 8086:2922", "not binding it", "fix: check the address with uiodrv list --all"},
		{ahci + " is a SATA controller", "not binding it"},
		{ahci, "ahci"},
	}
	for i, w := range want {
		ex := res.Exits[i]
		out := strings.Join(res.Output[i], "\n")
		if i == 6 || i == 7 { // the refusals
			if !ex.Ended || ex.Code != 1 {
				t.Errorf("command %d %v: exit %d %s, want 1\n%s", i, cfg.Commands[i].Args, ex.Code, ex.Err, out)
			}
		} else if !ex.Ended || ex.Code != 0 {
			t.Errorf("command %d %v: exit %d %s\n%s", i, cfg.Commands[i].Args, ex.Code, ex.Err, out)
		}
		for _, s := range w {
			if !strings.Contains(out, s) {
				t.Errorf("command %d %v: output lacks %q:\n%s", i, cfg.Commands[i].Args, s, out)
			}
		}
	}
	// After the refusals the AHCI controller is still on ahci.
	for _, l := range res.Output[8] {
		if strings.HasPrefix(l, ahci) && !strings.Contains(l, " ahci ") {
			t.Errorf("after the refused binds: %s", l)
		}
	}
}
