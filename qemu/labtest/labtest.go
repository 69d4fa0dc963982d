// Package labtest runs a package's tests inside the lab guest.
//
// A package writes its in-guest tests as ordinary tests named TestGuest*
// that call InGuest first, and a host-side TestLab* that calls Run:
//
//	func TestLabVFIO(t *testing.T) {
//		labtest.Run(t, labtest.Options{
//			Package: "./vfio",
//			Run:     "^TestGuestVFIO",
//			VM: qemu.Config{IOMMU: true, NICs: []qemu.NIC{{Model: qemu.E1000}},
//				Bind: []qemu.Binding{{BDF: "0000:00:03.0", Driver: "vfio-pci"}}},
//		})
//	}
//
// Run builds the package's test binary statically, boots the lab with it at
// /bin/<name>.test, runs it with -test.v and the given -test.run, streams its
// output to t.Log and fails the test if it does not exit 0.
//
// Lab tests skip when QEMU is missing, except with CI=true: then QEMU and the
// kernel are installed as needed and any failure to boot fails the test.
// Boots from parallel test processes are serialised with a host-wide lock
// file, since two TCG guests on a 2-core machine slow each other past their
// timeouts.
package labtest

import (
	"context"

	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// IsGuest reports whether this process runs inside the lab guest.
func IsGuest() bool { return os.Getenv(proto.EnvInGuest) == "1" }

// InGuest skips the test unless it runs inside the lab guest.
func InGuest(t testing.TB) {
	t.Helper()
	if !IsGuest() {
		t.Skip("runs inside the lab guest only (see TestLab* in this package)")
	}
}

// CI reports whether CI=true, where no lab test may skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Require skips the test when the lab cannot run here, except in CI, where
// it installs what is missing and fails the test if that fails.
func Require(t testing.TB) {
	t.Helper()
	if IsGuest() {
		t.Skip("host-side lab test: not run inside the guest")
	}
	if testing.Short() && !CI() {
		t.Skip("lab test skipped in -short mode")
	}
	if !CI() && os.Getenv("UIODRV_LAB_INSTALL") == "" {
		if v, ok, err := qemu.QEMUVersion(); err != nil || !ok {
			t.Skipf("qemu-system-x86_64 %s not installed or older than %d.%d (make lab-setup installs it; or set UIODRV_LAB_INSTALL=1)",
				v, qemu.MinQEMU[0], qemu.MinQEMU[1])
		}
	}
	if err := qemu.EnsureQEMU(); err != nil {
		t.Fatalf("lab: %v", err)
	}
}

// RequireTap skips the test when this process cannot give a NIC a
// multiqueue tap peer (qemu.NIC.Queues above 1: it needs CAP_SYS_ADMIN and
// CAP_NET_ADMIN), except in CI, where it fails the test.
func RequireTap(t testing.TB) {
	t.Helper()
	if err := qemu.CheckTapPeer(); err != nil {
		if CI() {
			t.Fatalf("lab: %v", err)
		}
		t.Skipf("lab: %v", err)
	}
}

// Options describe one in-guest test run.
type Options struct {
	// Package is the package whose tests run in the guest, relative to the
	// module root (e.g. "./vfio").
	Package string
	// Run is the -test.run pattern, e.g. "^TestGuestVFIO".
	Run string
	// Args are extra arguments for the test binary.
	Args []string
	// Env is extra environment for the test binary ("KEY=value").
	Env []string
	// VM is the lab configuration. Run appends the test binary and its command.
	VM qemu.Config
	// Before are commands that run before the test binary (after binding).
	Before []qemu.Command
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// TestBinary builds (once per process) the static test binary of pkg.
func TestBinary(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "uiodrv-labtest-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, path.Base(pkg)+".test")
	if err := qemu.BuildTest(pkg, out); err != nil {
		t.Fatalf("build guest test binary: %v", err)
	}
	built[pkg] = out
	return out
}

// Lock serialises lab boots across processes on this host. The returned
// function releases the lock.
func Lock(t testing.TB) func() {
	t.Helper()
	unlock, err := qemu.LockLab()
	if err != nil {
		t.Fatal(err)
	}
	return unlock
}

// Run boots the lab with the package's test binary and fails t unless every
// test in it passed. It returns the result for further checks.
func Run(t *testing.T, o Options) *qemu.Result {
	t.Helper()
	vm := Start(t, o)
	return Finish(t, vm)
}

// Start boots the lab like Run but returns at once, so the host side can
// talk to the guest (vm.Peer, vm.WaitOutput, vm.SetLink) while the tests run.
// The VM is closed and the lab lock released when t ends.
func Start(t *testing.T, o Options) *qemu.VM {
	t.Helper()
	Require(t)
	bin := TestBinary(t, o.Package)
	guest := "/bin/" + filepath.Base(bin)
	cfg := o.VM
	cfg.Files = append(append([]qemu.File(nil), cfg.Files...), qemu.File{Host: bin, Guest: guest})
	args := append([]string{guest, "-test.v", "-test.count=1", "-test.run", o.Run}, o.Args...)
	cfg.Commands = append(append([]qemu.Command(nil), o.Before...), qemu.Command{Args: args, Env: o.Env})
	tl := &tlog{t: t}
	cfg.Output = tl
	unlock := Lock(t)
	ctx, cancel := context.WithCancel(context.Background())
	vm, err := qemu.StartReady(ctx, cfg, func(err error) { t.Logf("lab: retrying a boot that hung: %v", err) })
	if err != nil {
		cancel()
		unlock()
		t.Fatalf("lab: %v", err)
	}
	last := len(cfg.Commands) - 1
	t.Cleanup(func() {
		if t.Failed() {
			dumpRunning(t, vm, last)
		}
		vm.Close()
		cancel()
		unlock()
		tl.mu.Lock()
		tl.done = true
		tl.mu.Unlock()
	})
	return vm
}

// dumpRunning runs when a test failed while its guest may still be running
// (a wait for a guest line timed out): it asks the guest test binary for its
// goroutines (SIGQUIT makes Go print every stack and exit) and logs the
// console's tail, so a hang says where it hung. A guest that prints nothing
// in reply hung below Go, in the guest kernel or QEMU; the console says which.
func dumpRunning(t *testing.T, vm *qemu.VM, cmd int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if vm.WaitExit(ctx, cmd) == nil {
		return // it ended; its output is in the log already
	}
	if err := vm.Signal(cmd, syscall.SIGQUIT); err != nil {
		t.Logf("lab: could not ask the guest test binary for its goroutines: %v", err)
	} else if err := vm.WaitExit(ctx, cmd); err != nil {
		t.Logf("lab: the guest test binary did not answer SIGQUIT within 10 s (%v): the guest hung below Go", err)
	} else {
		t.Logf("lab: the guest test binary's goroutines at the failure are above (SIGQUIT)")
	}
	t.Logf("lab: console tail:\n%s", vm.Console(4000))
}

// Finish waits for a VM from Start to power off and fails t unless its last
// command (the test binary) exited 0 having passed at least one test. The
// exit statuses of earlier commands are the caller's to check.
func Finish(t *testing.T, vm *qemu.VM) *qemu.Result {
	t.Helper()
	res, err := vm.Wait()
	if res != nil {
		t.Logf("lab: kernel %s, boot %v, total %v", res.Kernel, res.Boot.Round(time.Millisecond), res.Total.Round(time.Millisecond))
	}
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	last := len(res.Exits) - 1
	if e := res.Exits[last]; !e.Ended || e.Code != 0 {
		t.Fatalf("in-guest tests failed: exit %d %s", e.Code, e.Err)
	}
	passed := 0
	for _, l := range res.Output[len(res.Output)-1] {
		if strings.HasPrefix(strings.TrimSpace(l), "--- PASS") {
			passed++
		}
	}
	if passed == 0 {
		t.Fatalf("in-guest test run passed no test")
	}
	return res
}

// tlog forwards guest output to t.Log until the test ends.
type tlog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (l *tlog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
