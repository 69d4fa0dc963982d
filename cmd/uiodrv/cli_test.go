package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/rt"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = cliMain(args, &o, &e)
	return code, o.String(), e.String()
}

// Usage errors exit 2 with a message naming the fix, before anything is
// opened: the device given does not even exist on the host.
func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--dev", "00:3.0"}, "fix: give the address as DDDD:BB:SS.F"},
		{[]string{"--dev", "zz"}, "malformed address"},
		{[]string{}, "--dev is required"},
		{[]string{"--dev", "0000:00:03.0", "--mode", "irq"}, "valid modes are tasklet, softirq, workqueue, threaded, napi, busypoll"},
		{[]string{"--dev", "0000:00:03.0", "--handler", "drop"}, "valid handlers are count, reflect, capture, forward"},
		{[]string{"--dev", "0000:00:03.0", "--handler", "capture"}, "--handler capture needs --pcap FILE"},
		{[]string{"--dev", "0000:00:03.0", "--handler", "forward"}, "--handler forward needs --fwd-dev BDF"},
		{[]string{"--dev", "0000:00:03.0", "--handler", "forward", "--fwd-dev", "0000:00:03.0"}, "--fwd-dev must differ"},
		{[]string{"--dev", "0000:00:03.0", "--irq-cpu", "4096"}, "not a CPU this process may use"},
		{[]string{"--dev", "0000:00:03.0", "--bh-cpu", "-2"}, "not a CPU this process may use"},
		{[]string{"--dev", "0000:00:03.0", "--irq-cpu", "one"}, `"one" is not a CPU number`},
		{[]string{"--dev", "0000:00:03.0", "--rt-prio", "100"}, "want 0 (SCHED_OTHER) or 1-99"},
		{[]string{"--dev", "0000:00:03.0", "--ring-size", "100"}, "power of two from 8 to 4096"},
		{[]string{"--dev", "0000:00:03.0", "--budget", "0"}, "--budget 0"},
		{[]string{"--dev", "0000:00:03.0", "--backend", "dpdk"}, "use --backend vfio or --backend uio"},
		{[]string{"--dev", "0000:00:03.0", "--backend", "uio", "--msix"}, "--msix needs --backend vfio"},
		{[]string{"--dev", "0000:00:03.0", "--log-level", "loud"}, "--log-level"},
		{[]string{"--dev", "0000:00:03.0", "--log-format", "xml"}, "--log-format"},
		{[]string{"--dev", "0000:00:03.0", "stray"}, "unexpected argument"},
		{[]string{"--nope"}, "unknown flag"},
		{[]string{"bind", "--dev", "0000:00:03.0", "--driver", "e1000"}, "want vfio-pci or uio_pci_generic"},
		{[]string{"bind"}, "--dev is required"},
		{[]string{"unbind", "--dev", "3"}, "malformed address"},
		{[]string{"pktgen", "--dev", "0000:00:03.0", "--size", "10"}, "--size 10"},
		{[]string{"lab", "--nic", "rtl8139"}, "want e1000 (82540EM), e1000e (82574L), igb (82576) or virtio-net-pci (virtio-net (modern))"},
		{[]string{"lab", "--mode", "fast"}, "valid modes are"},
		{[]string{"lab", "--rate", "0"}, "--rate 0"},
		{[]string{"help", "bogus"}, `no command "bogus"; the commands are bind, lab, list`},
		{[]string{"pktgen", "--dev", "0000:00:03.0", "--metrics", "9100"}, "--metrics \"9100\": want IP:PORT"},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(c.args...)
		if code != exitUsage {
			t.Errorf("uiodrv %v: exit %d, want %d\n%s", c.args, code, exitUsage, errOut)
		}
		if !strings.Contains(errOut, c.want) {
			t.Errorf("uiodrv %v: stderr lacks %q:\n%s", c.args, c.want, errOut)
		}
		if out != "" {
			t.Errorf("uiodrv %v: printed on stdout: %q", c.args, out)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"run", "--help"}, {"help", "lab"}, {"list", "-h"},
		{"bind", "--help"}, {"unbind", "--help"}, {"pktgen", "--help"}, {"lab", "--help"}} {
		code, out, _ := runCLI(args...)
		if code != exitOK || !strings.Contains(out, "Usage:") || !strings.Contains(out, "uiodrv") {
			t.Errorf("uiodrv %v: exit %d, output %q", args, code, out)
		}
		if args[0] != "--help" && args[0] != "-h" && args[0] != "help" || len(args) > 1 {
			if !strings.Contains(out, "Examples:") || !strings.Contains(out, "Exit status") {
				t.Errorf("uiodrv %v: help lacks examples or exit codes:\n%s", args, out)
			}
		}
	}
	code, out, _ := runCLI("--version")
	if code != 0 || !strings.HasPrefix(out, "uiodrv ") {
		t.Errorf("--version: exit %d %q", code, out)
	}
}

// Every sentinel a user can meet maps to a fix, and to exit status 1.
func TestHints(t *testing.T) {
	for _, h := range hints {
		err := fmt.Errorf("open 0000:00:03.0: %w", h.err)
		var b bytes.Buffer
		if code := report(&b, "run", err); code != exitFailure {
			t.Errorf("%v: exit %d, want 1", h.err, code)
		}
		if !strings.Contains(b.String(), "fix: "+h.hint) {
			t.Errorf("%v: report lacks its fix:\n%s", h.err, b.String())
		}
	}
	for _, e := range []error{bus.ErrNoDevice, bus.ErrNoVFIO, bus.ErrVFIONotBound, bus.ErrUIONotBound, bus.ErrNoIOMMUGroup,
		bus.ErrGroupNotViable, bus.ErrPermission, bus.ErrMemlock, bus.ErrUIONoHugepages, rt.ErrRTNotPermitted,
		errRLimitMemlock, errNoHugepages, errNoModule} {
		if hintFor(fmt.Errorf("x: %w", e)) == "" {
			t.Errorf("%v has no fix", e)
		}
	}
	if hintFor(errors.New("something else")) != "" {
		t.Errorf("an unknown error got a fix")
	}
}

func TestList(t *testing.T) {
	s := fakeSysfs(t, []string{"vfio-pci", "e1000", "virtio-pci"}, "",
		fakeDev{"0000:00:00.0", "0x8086", "0x29c0", "0x060000", "", -1, ""},
		fakeDev{"0000:00:03.0", "0x8086", e1000ID, netCls, "vfio-pci", 3, ""},
		fakeDev{"0000:00:04.0", "0x8086", "0x10d3", netCls, "e1000e", -1, "enp0s4"},
		fakeDev{"0000:00:05.0", "0x1af4", "0x1000", netCls, "virtio-pci", -1, ""},
		fakeDev{"0000:00:06.0", "0x8086", "0x10c9", netCls, "vfio-pci", 6, ""},
		fakeDev{"0000:00:07.0", "0x8086", "0x1533", netCls, "igb", 7, "eth7"},
	)
	var o, e bytes.Buffer
	writeList(&env{stdout: &o, stderr: &e}, s, false)
	out := o.String()
	for _, want := range []string{
		"0000:00:03.0", "yes: 82540EM, --backend vfio",
		"0000:00:04.0", "enp0s4", "in use: enp0s4 is up (ip link set enp0s4 down first); after bind: 82574L, uio only: no IOMMU",
		"0000:00:05.0", "no: not a NIC uiodrv drives",
		"0000:00:06.0", "yes: 82576 (igb, --queues up to 16), --backend vfio",
		"0000:00:07.0", "after bind: I210 (igb, --queues up to 4; written from the datasheet, not verified on hardware) (uiodrv bind --dev 0000:00:07.0)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "0000:00:00.0") {
		t.Errorf("list shows a non-network device without --all:\n%s", out)
	}
	o.Reset()
	writeList(&env{stdout: &o, stderr: &e}, fakeSysfs(t, nil, ""), false)
	if !strings.Contains(o.String(), "No network controllers found") {
		t.Errorf("empty machine: %q", o.String())
	}
	o.Reset()
	writeList(&env{stdout: &o, stderr: &e}, bus.Sysfs{Root: filepath.Join(t.TempDir(), "nosys")}, false)
	if !strings.Contains(o.String(), "No PCI devices found") {
		t.Errorf("no sysfs: %q", o.String())
	}
}

// The real machine: list must work whatever it holds (virtio here).
func TestListHost(t *testing.T) {
	code, out, errOut := runCLI("list")
	if code != 0 || errOut != "" || !(strings.Contains(out, "ADDRESS") || strings.Contains(out, "No ")) {
		t.Errorf("uiodrv list: exit %d\n%s%s", code, out, errOut)
	}
}

func TestBindRefusals(t *testing.T) {
	s := fakeSysfs(t, []string{"e1000", "virtio-pci", "vfio-pci"}, "",
		fakeDev{"0000:00:03.0", "0x8086", e1000ID, netCls, "e1000", 3, "eth1"},
		fakeDev{"0000:00:05.0", "0x1af4", "0x1000", netCls, "virtio-pci", 5, ""},
	)
	state := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bind", "--dev", "0000:00:09.0"}, "no such device"},
		{[]string{"bind", "--dev", "0000:00:03.0", "--driver", "uio_pci_generic"}, "modprobe uio_pci_generic"},
		{[]string{"bind", "--dev", "0000:00:03.0"}, "its interface eth1 is up"},
		{[]string{"unbind", "--dev", "0000:00:05.0"}, "is bound to virtio-pci, not to vfio-pci or uio_pci_generic"},
	} {
		args := append(c.args, "--sysfs", s.Root, "--state-dir", state)
		code, _, errOut := runCLI(args...)
		if code != exitFailure || !strings.Contains(errOut, c.want) {
			t.Errorf("uiodrv %v: exit %d, want 1 and %q:\n%s", c.args, code, c.want, errOut)
		}
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Errorf("a refused bind left a state file")
	}
	if got, _ := s.CurrentDriver(bus.MustParseAddr("0000:00:03.0")); got != "e1000" {
		t.Errorf("driver %q after refused bind", got)
	}
}

func TestRecordDriver(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "uiodrv")
	a := bus.MustParseAddr("0000:00:03.0")
	st := bus.StateDir{Path: dir, Owner: os.Geteuid()}
	if ok, err := recordDriver(st, a, "e1000"); !ok || err != nil {
		t.Fatalf("first record: %v %v", ok, err)
	}
	// A second bind (say to uio_pci_generic after vfio-pci) keeps the original.
	if ok, err := recordDriver(st, a, "vfio-pci"); ok || err != nil {
		t.Fatalf("second record: %v %v", ok, err)
	}
	b, _ := os.ReadFile(statePath(dir, a))
	if strings.TrimSpace(string(b)) != "e1000" {
		t.Errorf("state file holds %q", b)
	}
}

func TestMeterLine(t *testing.T) {
	var s0, s1 driver.Stats
	m := newMeter(s0)
	s1.RxPackets, s1.TxPackets, s1.IRQs, s1.BHRuns = 2000, 1000, 400, 300
	s1.Drops[driver.DropRingFull] = 7
	s1.Link, s1.SpeedMbps = true, 1000
	l := m.line(&s1, m.at.Add(2e9))
	for _, want := range []string{"rx    1000 pps", "tx     500 pps", "irq/s    200", "bh/s    150", "ring_full=7", "up 1000 Mb/s"} {
		if !strings.Contains(l, want) {
			t.Errorf("line lacks %q: %s", want, l)
		}
	}
}
