package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// The CLI's errors in the guest: every bad input and refused device, on both
// backends, exits with its status and names the fix, and changes nothing.
func TestLabCLIErrorsVFIO(t *testing.T) { labErrors(t, driver.BackendVFIO) }
func TestLabCLIErrorsUIO(t *testing.T)  { labErrors(t, driver.BackendUIO) }

func labErrors(t *testing.T, backend driver.Backend) {
	labtest.Require(t)
	bin := staticBinary(t)
	cfg := labConfig(bin, qemu.E1000, backend, 5*time.Minute)
	// 04.0 is claimed by the kernel's e1000, 05.0 (e1000e, module not loaded) has no driver.
	cfg.NICs = append(cfg.NICs, qemu.NIC{Model: qemu.E1000}, qemu.NIC{Model: qemu.E1000E})
	cfg.Modules = []string{"e1000"}
	start := time.Now()
	labtest.Run(t, labtest.Options{
		Package: "./cmd/uiodrv",
		Run:     "^TestGuestCLIErrors$",
		VM:      cfg,
		Env:     []string{"LAB_BACKEND=" + backend.String()},
	})
	t.Logf("%s lane: %v", backend, time.Since(start).Round(time.Millisecond))
}

// guestRun runs /bin/uiodrv with args, as uid/gid 65534 when nobody is set.
func guestRun(t *testing.T, nobody bool, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("/bin/uiodrv", args...)
	if nobody {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("uiodrv %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, string(out)
}

func TestGuestCLIErrors(t *testing.T) {
	labtest.InGuest(t)
	backend, err := driver.ParseBackend(os.Getenv("LAB_BACKEND"))
	if err != nil {
		t.Fatal(err)
	}
	s := bus.Sysfs{}
	drivers := func() string {
		var d []string
		for _, a := range []string{"0000:00:03.0", "0000:00:04.0", "0000:00:05.0"} {
			cur, err := s.CurrentDriver(bus.MustParseAddr(a))
			if err != nil {
				t.Fatal(err)
			}
			d = append(d, a+"="+cur)
		}
		return strings.Join(d, " ")
	}
	before := drivers()
	t.Logf("drivers: %s", before)
	b := "--backend=" + backend.String()
	exists := "/tmp/exists.pcap"
	if err := os.WriteFile(exists, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Any address: the guest's loopback interface is down, so 127.0.0.1 is not there.
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := fmt.Sprintf(":%d", busy.Addr().(*net.TCPAddr).Port)
	cases := []struct {
		name   string
		nobody bool
		args   []string
		code   int
		want   []string // substrings of the output: the error and its fix
	}{
		{"malformed BDF", false, []string{"--dev", "00:3.0", b}, 2, []string{"malformed address", "fix: give the address as DDDD:BB:SS.F"}},
		{"no such device", false, []string{"--dev", "0000:00:09.0", b}, 1, []string{"no such device", "uiodrv list"}},
		{"unsupported device", false, []string{"--dev", "0000:00:00.0", b}, 1, []string{"unsupported device", "not a NIC uiodrv drives"}},
		{"bound to another driver", false, []string{"--dev", "0000:00:04.0", b}, 1, []string{"is bound to e1000", "uiodrv bind --dev"}},
		{"bound to no driver", false, []string{"--dev", "0000:00:05.0", b}, 1, []string{"is bound to no driver", "uiodrv bind --dev"}},
		{"unknown mode", false, []string{"--dev", labBDF, b, "--mode", "bogus"}, 2, []string{"valid modes are"}},
		{"unknown handler", false, []string{"--dev", labBDF, b, "--handler", "bogus"}, 2, []string{"valid handlers are"}},
		{"invalid CPU", false, []string{"--dev", labBDF, b, "--irq-cpu", "7"}, 2, []string{"not a CPU this process may use (allowed: 0-1"}},
		{"bad backend", false, []string{"--dev", labBDF, "--backend", "dpdk"}, 2, []string{"unknown backend", "use --backend vfio or --backend uio"}},
		// Refused before the device is opened (each also on a fake tree: TestRefusedBeforeOpen).
		{"budget", false, []string{"--dev", labBDF, b, "--budget", "5000"}, 2, []string{"--budget 5000: want 1 to 4096"}},
		{"bh-ring 2^30", false, []string{"--dev", labBDF, b, "--bh-ring", "1073741824"}, 2, []string{"want a power of two up to 65536"}},
		{"metrics busy", false, []string{"--dev", labBDF, b, "--mode", "tasklet", "--metrics", busyAddr}, 1, []string{"address already in use"}},
		{"pcap exists", false, []string{"--dev", labBDF, b, "--mode", "tasklet", "--handler", "capture", "--pcap", exists}, 1, []string{"it exists; pass --pcap-overwrite"}},
		{"help bogus", false, []string{"help", "bogus"}, 2, []string{`no command "bogus"`}},
	}
	if backend == driver.BackendUIO {
		cases = append(cases, struct {
			name   string
			nobody bool
			args   []string
			code   int
			want   []string
		}{"vfio module missing", false, []string{"--dev", labBDF}, 1, []string{"kernel module not loaded", "modprobe vfio-pci"}})
	} else {
		cases = append(cases, struct {
			name   string
			nobody bool
			args   []string
			code   int
			want   []string
		}{"permission denied", true, []string{"--dev", labBDF, b, "--mode", "tasklet"}, 1, []string{"permission denied", "fix: run as root"}},
			struct {
				name   string
				nobody bool
				args   []string
				code   int
				want   []string
			}{"msix on an 82540EM", false, []string{"--dev", labBDF, b, "--mode", "tasklet", "--msix"}, 2, []string{"--msix: 0000:00:03.0 is an 82540EM, which has no MSI-X"}})
	}
	for _, c := range cases {
		code, out := guestRun(t, c.nobody, c.args...)
		t.Logf("%s: exit %d\n%s", c.name, code, out)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d", c.name, code, c.code)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q", c.name, w)
			}
		}
	}

	if backend == driver.BackendVFIO {
		// Give nobody the group, so that the limits are what stops it.
		grp, err := s.IOMMUGroup(bus.MustParseAddr(labBDF))
		if err != nil {
			t.Fatal(err)
		}
		gpath := "/dev/vfio/" + strconv.Itoa(grp)
		if err := os.Chown(gpath, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		code, out := guestRun(t, true, "--dev", labBDF, b, "--mode", "tasklet", "--rt-prio", "50")
		t.Logf("rt not permitted: exit %d\n%s", code, out)
		if code != 1 || !strings.Contains(out, "real-time scheduling not permitted") || !strings.Contains(out, "--rt-prio 0") {
			t.Errorf("rt not permitted: exit %d, want 1 and the fix", code)
		}
		var old unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old); err != nil {
			t.Fatal(err)
		}
		// Hard as well as soft: uiodrv raises the soft limit to the hard one.
		low := unix.Rlimit{Cur: 64 << 10, Max: 64 << 10}
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &low); err != nil {
			t.Fatal(err)
		}
		code, out = guestRun(t, true, "--dev", labBDF, b, "--mode", "tasklet")
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old); err != nil {
			t.Fatal(err)
		}
		t.Logf("memlock: exit %d\n%s", code, out)
		if code != 1 || !strings.Contains(out, "RLIMIT_MEMLOCK") || !strings.Contains(out, "ulimit -l") {
			t.Errorf("memlock: exit %d, want 1 and the fix", code)
		}
		if err := os.Chown(gpath, 0, 0); err != nil {
			t.Fatal(err)
		}
	} else {
		const nr = "/proc/sys/vm/nr_hugepages"
		old, err := os.ReadFile(nr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(nr, []byte("0"), 0); err != nil {
			t.Fatal(err)
		}
		code, out := guestRun(t, false, "--dev", labBDF, b)
		if err := os.WriteFile(nr, old, 0); err != nil {
			t.Fatal(err)
		}
		t.Logf("no hugepages: exit %d\n%s", code, out)
		if code != 1 || !strings.Contains(out, "no free hugepages") || !strings.Contains(out, "nr_hugepages") {
			t.Errorf("no hugepages: exit %d, want 1 and the fix", code)
		}
	}

	if b, _ := os.ReadFile(exists); string(b) != "keep me" {
		t.Errorf("the existing pcap file was changed: %q", b)
	}
	// Nothing changed: the drivers are as they were and the device still works.
	if after := drivers(); after != before {
		t.Errorf("drivers changed: %s, was %s", after, before)
	}
	guestClosedPipe(t, b)
	guestSecondSignal(t, b)
	code, out := guestRun(t, false, "--dev", labBDF, b, "--mode", "tasklet", "--duration", "1s", "--settle", "0")
	t.Logf("after the errors: exit %d\n%s", code, out)
	if code != 0 || !strings.Contains(out, "device released") {
		t.Errorf("the device does not run after the error cases: exit %d", code)
	}
	fmt.Println("guest CLI error checks done")
}

// TestLabBind checks list, bind, a run and unbind against the guest kernel's
// sysfs: 0000:00:04.0 starts on the kernel's e1000, is bound to vfio-pci (its
// previous driver recorded under /run/uiodrv), driven, and given back.
