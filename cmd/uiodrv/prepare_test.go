package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/handler"
)

// noOpen makes any attempt to open a device fail the test, and counts them.
func noOpen(t *testing.T) *int {
	t.Helper()
	n := new(int)
	old := openNIC
	openNIC = func(bdf string, f *runFlags) (openedNIC, error) {
		*n++
		return nil, errors.New("test: device opened")
	}
	t.Cleanup(func() { openNIC = old })
	return n
}

// runTree is a machine where 0000:00:03.0 and 0000:00:04.0 (82540EM) are on
// vfio-pci with usable groups, 0000:00:05.0 is an 82574L, 0000:00:06.0 an
// 82576 (QEMU's igb) and 0000:00:07.0 an 82576 on uio_pci_generic: every
// check passes, so what stops a run is the case under test.
func runTree(t *testing.T) string {
	t.Helper()
	vfioDevDir = t.TempDir()
	t.Cleanup(func() { vfioDevDir = bus.DefaultVFIODir })
	for _, n := range []string{"vfio", "3", "4", "5", "6"} {
		if err := os.WriteFile(filepath.Join(vfioDevDir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := fakeSysfs(t, []string{"vfio-pci", "uio_pci_generic"}, "64",
		fakeDev{"0000:00:03.0", "0x8086", e1000ID, netCls, "vfio-pci", 3, ""},
		fakeDev{"0000:00:04.0", "0x8086", e1000ID, netCls, "vfio-pci", 4, ""},
		fakeDev{"0000:00:05.0", "0x8086", "0x10d3", netCls, "vfio-pci", 5, ""},
		fakeDev{"0000:00:06.0", "0x8086", igbID, netCls, "vfio-pci", 6, ""},
		fakeDev{"0000:00:07.0", "0x8086", igbID, netCls, "uio_pci_generic", -1, ""},
	)
	return s.Root
}

// Every refusal comes before the device is opened: the flags' ranges
// (usage, exit 2), the model's features from sysfs, the metrics listener and
// the pcap file (runtime, exit 1).
func TestRefusedBeforeOpen(t *testing.T) {
	root := runTree(t)
	opened := noOpen(t)
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists.pcap")
	if err := os.WriteFile(exists, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pcap")
	if err := os.Symlink(exists, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.pcap")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	dev := []string{"--dev", "0000:00:03.0", "--sysfs", root, "--mode", "tasklet", "--irq-cpu", "-1", "--bh-cpu", "-1"}
	fwd := []string{"--handler", "forward", "--fwd-dev", "0000:00:04.0"}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"budget", []string{"--budget", "4097"}, 2, "--budget 4097: want 1 to 4096"},
		{"bh-ring 2^30", []string{"--bh-ring", "1073741824"}, 2, "--bh-ring 1073741824: want a power of two up to 65536"},
		{"itr", []string{"--itr", "65536"}, 2, "--itr 65536: want 0 to 65535"},
		{"metrics no port", []string{"--metrics", "localhost"}, 2, "want IP:PORT"},
		{"metrics host name", []string{"--metrics", "localhost:9100"}, 2, "\"localhost\" is not an IP address (names are not resolved)"},
		{"metrics host name v6", []string{"--metrics", "[ip6-localhost]:9100"}, 2, "is not an IP address"},
		{"metrics bad port", []string{"--metrics", ":99999"}, 2, "is not a number from 0 to 65535"},
		{"pcap-overwrite alone", []string{"--pcap-overwrite"}, 2, "--pcap-overwrite needs --pcap FILE"},
		{"msix on 82540EM", []string{"--msix"}, 2, "--msix: 0000:00:03.0 is an 82540EM, which has no MSI-X"},
		{"msix on the forward device", append([]string{"--dev", "0000:00:05.0", "--msix", "--sysfs", root}, fwd...), 2, "--msix: 0000:00:04.0 is an 82540EM"},
		{"metrics busy", []string{"--metrics", busy.Addr().String()}, 1, "address already in use"},
		{"pcap exists", []string{"--pcap", exists}, 1, "it exists; pass --pcap-overwrite"},
		{"pcap symlink", []string{"--pcap", link, "--pcap-overwrite"}, 1, "is a symbolic link (not followed)"},
		{"pcap symlink, no overwrite", []string{"--pcap", link}, 1, "is a symbolic link (not followed)"},
		{"pcap FIFO", []string{"--pcap", fifo}, 1, "is a FIFO; want a regular file"},
		{"pcap FIFO, overwrite", []string{"--pcap", fifo, "--pcap-overwrite"}, 1, "is a FIFO; want a regular file"},
		{"pcap no folder", []string{"--pcap", filepath.Join(dir, "none", "x.pcap")}, 1, "no such file or directory"},
		{"forward with a failing pcap", append([]string{"--pcap", exists}, fwd...), 1, "it exists"},
	}
	for _, c := range cases {
		args := append(append([]string{}, dev...), c.args...)
		start := time.Now()
		code, out, errOut := runCLI(args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, want %d and %q:\n%s%s", c.name, code, c.code, c.want, out, errOut)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v (blocked?)", c.name, d)
		}
		if *opened != 0 {
			t.Fatalf("%s: the device was opened", c.name)
		}
	}
	// pktgen serves --metrics too, so it binds it first like run.
	code, _, errOut := runCLI("pktgen", "--dev", "0000:00:03.0", "--sysfs", root, "--mode", "tasklet", "--irq-cpu", "-1",
		"--bh-cpu", "-1", "--metrics", busy.Addr().String())
	if code != exitFailure || !strings.Contains(errOut, "address already in use") || *opened != 0 {
		t.Errorf("pktgen --metrics busy: exit %d, opened %d:\n%s", code, *opened, errOut)
	}
	if b, _ := os.ReadFile(exists); string(b) != "keep me" {
		t.Errorf("the existing pcap file was changed: %q", b)
	}
}

// igbID is QEMU's igb, the 82576 (16 queues).
const igbID = "0x10c9"

// Queue counts and IRQ CPU lists are checked before the device is opened:
// against the flags (list length, --bh-cpu) and against the model read
// from sysfs (its queues; RSS on a single-queue NIC; MSI-X on UIO). Each is
// a usage error, exit 2, naming the fix.
func TestQueuesRefusedBeforeOpen(t *testing.T) {
	root := runTree(t)
	opened := noOpen(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"RSS on the 82540EM", []string{"--dev", "0000:00:03.0", "--queues", "2", "--irq-cpu", "0,0"}, "--queues 2: 0000:00:03.0 is an 82540EM, a single-queue NIC, so RSS cannot spread flows over queues: use --queues 1"},
		{"RSS on the 82574L", []string{"--dev", "0000:00:05.0", "--queues", "2"}, "0000:00:05.0 is an 82574L, a single-queue NIC"},
		{"queues above the 82576's", []string{"--dev", "0000:00:06.0", "--queues", "17", "--irq-cpu", "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"}, "--queues 17: 0000:00:06.0 is an 82576, which has 16 queues: use --queues 16 or fewer"},
		{"queues above any", []string{"--dev", "0000:00:06.0", "--queues", "33"}, "--queues 33: want 1 to 32"},
		{"queues 0", []string{"--dev", "0000:00:06.0", "--queues", "0"}, "--queues 0: want 1 to 32"},
		{"one CPU for two queues", []string{"--dev", "0000:00:06.0", "--queues", "2", "--irq-cpu", "0"}, `--irq-cpu "0" lists 1 CPUs for --queues 2: give one CPU per queue, e.g. --irq-cpu 0,1`},
		{"two CPUs for one queue", []string{"--dev", "0000:00:06.0", "--irq-cpu", "0,0"}, `--irq-cpu "0,0" lists 2 CPUs for --queues 1`},
		{"not a CPU", []string{"--dev", "0000:00:06.0", "--queues", "2", "--irq-cpu", "0,x"}, `"x" is not a CPU number`},
		{"CPU out of range", []string{"--dev", "0000:00:06.0", "--queues", "2", "--irq-cpu", "0,4096"}, "--irq-cpu 4096: not a CPU this process may use"},
		{"bh-cpu with queues", []string{"--dev", "0000:00:06.0", "--queues", "2", "--irq-cpu", "0,0", "--bh-cpu", "0"}, "--bh-cpu is for a single queue"},
		{"igb on UIO with interrupts", []string{"--dev", "0000:00:07.0", "--backend", "uio"}, "--backend uio: 0000:00:07.0 is an 82576, which takes its interrupts by MSI-X"},
	}
	for _, c := range cases {
		args := append([]string{"--sysfs", root, "--mode", "tasklet"}, c.args...)
		code, out, errOut := runCLI(args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, want %d and %q:\n%s%s", c.name, code, exitUsage, c.want, out, errOut)
		}
		if *opened != 0 {
			t.Fatalf("%s: the device was opened", c.name)
		}
	}
}

// A good igb command line reaches the open with the model and the queues'
// CPUs worked out: the igb driver, one CPU per queue (queue q on CPU q when
// --irq-cpu is left out), and a single --irq-cpu still works for one queue.
func TestQueuesAccepted(t *testing.T) {
	root := runTree(t)
	var got []string
	old := openNIC
	openNIC = func(bdf string, f *runFlags) (openedNIC, error) {
		got = append(got, fmt.Sprintf("%s %v q=%d cpus=%v", bdf, f.models[bdf].Family.Name, f.queues, f.irqCPUs))
		return nil, errors.New("test: open refused")
	}
	defer func() { openNIC = old }()
	n := runtime.NumCPU()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dev", "0000:00:06.0", "--queues", "2", "--irq-cpu", "0,0"}, "0000:00:06.0 igb q=2 cpus=[0 0]"},
		{[]string{"--dev", "0000:00:06.0", "--queues", "2"}, fmt.Sprintf("0000:00:06.0 igb q=2 cpus=[0 %d]", 1%n)},
		{[]string{"--dev", "0000:00:06.0", "--irq-cpu", "0"}, "0000:00:06.0 igb q=1 cpus=[0]"},
		{[]string{"--dev", "0000:00:03.0", "--irq-cpu", "-1"}, "0000:00:03.0 e1000 q=1 cpus=[-1]"},
	} {
		got = nil
		code, _, errOut := runCLI(append([]string{"--sysfs", root, "--mode", "napi"}, c.args...)...)
		if code != exitFailure || len(got) != 1 || got[0] != c.want {
			t.Errorf("%v: exit %d, opened %q, want %q:\n%s", c.args, code, got, c.want, errOut)
		}
	}
}

// When everything checks out, the listener is bound and the pcap file made
// (0600) before the device is opened; when the open fails, both are undone.
func TestPreparedBeforeOpen(t *testing.T) {
	root := runTree(t)
	pcap := filepath.Join(t.TempDir(), "rx.pcap")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var atOpen []string
	old := openNIC
	openNIC = func(bdf string, f *runFlags) (openedNIC, error) {
		st, err := os.Lstat(pcap)
		switch {
		case err != nil:
			atOpen = append(atOpen, "no pcap file: "+err.Error())
		case st.Mode().Perm() != 0o600 || !st.Mode().IsRegular():
			atOpen = append(atOpen, "pcap mode "+st.Mode().String())
		}
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			atOpen = append(atOpen, "metrics address not bound")
		}
		return nil, errors.New("test: open refused")
	}
	defer func() { openNIC = old }()
	code, _, errOut := runCLI("--dev", "0000:00:03.0", "--sysfs", root, "--mode", "tasklet", "--irq-cpu", "-1", "--bh-cpu", "-1",
		"--handler", "capture", "--pcap", pcap, "--metrics", addr)
	if code != exitFailure || !strings.Contains(errOut, "test: open refused") {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if len(atOpen) > 0 {
		t.Errorf("when the device was opened: %v", atOpen)
	}
	if _, err := os.Lstat(pcap); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pcap file of a run that never started is left: %v", err)
	}
	if l, err := net.Listen("tcp", addr); err != nil {
		t.Errorf("metrics listener left open: %v", err)
	} else {
		l.Close()
	}
}

func TestOpenPcap(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.pcap")
	f, err := openPcap(p, false)
	if err != nil || f.Replaces() {
		t.Fatalf("new file: %v", err)
	}
	f.WriteString("old contents")
	f.Commit()
	f.Close()
	if st, _ := os.Stat(p); st.Mode().Perm()&0o077 != 0 {
		t.Errorf("new pcap file mode %v: readable by others", st.Mode())
	}
	if _, err := openPcap(p, false); !errors.Is(err, errPcapExists) || !strings.Contains(err.Error(), "--pcap-overwrite") {
		t.Errorf("existing file: %v", err)
	}
	// Overwrite: the old file is untouched (contents, mode) until Commit.
	os.Chmod(p, 0o644)
	f, err = openPcap(p, true)
	if err != nil || !f.Replaces() {
		t.Fatalf("overwrite: %v", err)
	}
	f.WriteString("new")
	if b, _ := os.ReadFile(p); string(b) != "old contents" {
		t.Errorf("before Commit the old file holds %q", b)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("after Commit the file holds %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("replaced file mode %v; want 0600", st.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries beside the capture, want none (no temporary file left)", len(ents)-1)
	}
	hard := filepath.Join(dir, "hard.pcap")
	if err := os.Link(p, hard); err != nil {
		t.Fatal(err)
	}
	if _, err := openPcap(hard, true); err == nil || !strings.Contains(err.Error(), "hard links") {
		t.Errorf("hard link: %v", err)
	}
	os.Remove(hard)
	// A FIFO with a reader, a device, a folder, a dangling link: refused
	// with what they are, with or without --pcap-overwrite, never opened,
	// and never with the advice to pass --pcap-overwrite.
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	rd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rd)
	dangling := filepath.Join(dir, "dangling")
	os.Symlink(filepath.Join(dir, "nowhere"), dangling)
	for _, c := range []struct{ path, want string }{
		{fifo, "is a FIFO"}, {"/dev/null", "is a device"}, {dir, "is a directory"}, {dangling, "is a dangling symbolic link"},
	} {
		for _, ow := range []bool{false, true} {
			_, err := openPcap(c.path, ow)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "pass --pcap-overwrite") {
				t.Errorf("openPcap(%s, overwrite %v): %v; want %q and no --pcap-overwrite advice", c.path, ow, err, c.want)
			}
		}
	}
}

// --pcap-overwrite keeps the old file, contents and mode, when the run fails
// before the device runs: it used to be truncated to nothing and made 0600
// before the device was even opened.
func TestPcapOverwriteKeptOnFailure(t *testing.T) {
	root := runTree(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "rx.pcap")
	if err := os.WriteFile(pcap, []byte("an earlier capture"), 0o640); err != nil {
		t.Fatal(err)
	}
	noOpen(t)
	code, _, errOut := runCLI("--dev", "0000:00:03.0", "--sysfs", root, "--mode", "tasklet", "--irq-cpu", "-1",
		"--handler", "capture", "--pcap", pcap, "--pcap-overwrite")
	if code != exitFailure {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	st, err := os.Stat(pcap)
	if b, _ := os.ReadFile(pcap); err != nil || string(b) != "an earlier capture" || st.Mode().Perm() != 0o640 {
		t.Errorf("after a failed run the old file is %q, mode %v (%v); want it unchanged", b, st.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files in the folder, want only the old capture (no temporary file left)", len(ents))
	}
}

func TestRaiseMemlock(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old)
	if old.Max < 128<<10 {
		t.Skipf("hard RLIMIT_MEMLOCK %d too low to test", old.Max)
	}
	low := unix.Rlimit{Cur: 64 << 10, Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &low); err != nil {
		t.Fatal(err)
	}
	raiseMemlock()
	var now unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &now)
	if now.Cur != old.Max {
		t.Errorf("soft RLIMIT_MEMLOCK %d after raiseMemlock, want the hard limit %d", now.Cur, old.Max)
	}
	if readLimits().memlock != old.Max {
		t.Errorf("readLimits does not see the raised limit")
	}
}

// With several queues the summary and the live line show each queue.
func TestSummaryPerQueue(t *testing.T) {
	f := &runFlags{handler: "reflect"}
	s := driver.Stats{RxPackets: 30, Processed: 30, Queues: []driver.QueueStats{
		{CPU: 0, RxPackets: 10, Processed: 10, IRQs: 3}, {CPU: 1, RxPackets: 20, Processed: 20, IRQs: 4}}}
	var b strings.Builder
	printSummary(&b, f, &s, nil, [handler.ProtoMalformed + 1]uint64{}, nil, time.Second, "count")
	for _, want := range []string{"queue 0   cpu 0: rx 10 frames", "queue 1   cpu 1: rx 20 frames, processed 20, dropped 0, tx 0; irqs 4"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	m := newMeter(driver.Stats{Queues: make([]driver.QueueStats, 2)})
	if l := m.line(&s, m.at.Add(time.Second)); !strings.Contains(l, "q0 10 pps  q1 20 pps") {
		t.Errorf("live line: %s", l)
	}
}
