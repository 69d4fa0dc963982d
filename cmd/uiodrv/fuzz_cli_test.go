package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/bus/bustest"
	"github.com/uiodrv/uiodrv/internal/safefile"
)

// fuzzWorld is the machine FuzzCLI runs the CLI on: a fake sysfs tree and
// /dev/vfio, a record folder, and fakes in place of every step that opens
// or writes a device, sysfs, a capture file, boots the lab or runs the
// real-time probe. Each fake records that it was reached.
type fuzzWorld struct {
	root, state, files string
	touched            []string
}

func (w *fuzzWorld) touch(what string) { w.touched = append(w.touched, what) }

// newFuzzWorld sets the world up for one input; t's cleanup restores the
// real one.
func newFuzzWorld(t *testing.T) *fuzzWorld {
	w := &fuzzWorld{state: filepath.Join(t.TempDir(), "state"), files: t.TempDir()}
	dev := t.TempDir()
	for _, n := range []string{"vfio", "3", "4", "6"} {
		if err := os.WriteFile(filepath.Join(dev, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := fakeSysfs(t, []string{"vfio-pci", "uio_pci_generic", "e1000", "ahci"}, "64",
		fakeDev{"0000:00:03.0", "0x8086", e1000ID, netCls, "vfio-pci", 3, ""},
		fakeDev{"0000:00:04.0", "0x8086", "0x10d3", netCls, "vfio-pci", 4, ""},
		fakeDev{"0000:00:05.0", "0x8086", e1000ID, netCls, "e1000", -1, "eth0"},
		fakeDev{"0000:00:06.0", "0x8086", igbID, netCls, "vfio-pci", 6, ""},
		fakeDev{"0000:00:07.0", "0x8086", e1000ID, netCls, "uio_pci_generic", -1, ""},
		fakeDev{"0000:00:08.0", "0x8086", igbID, netCls, "uio_pci_generic", -1, ""},
		fakeDev{"0000:00:1f.2", "0x8086", "0x2922", "0x010601", "ahci", 9, ""},
	)
	w.root = s.Root
	kernel := bustest.Kernel(s.Root)
	oldSysfs, oldNew, oldState, oldVFIO := sysfsRoot, newSysfs, defaultStateDir, vfioDevDir
	oldOpen, oldPcap, oldLab, oldRT := openNIC, createPcap, runLabFn, runRTFn
	sysfsRoot, defaultStateDir, vfioDevDir = s.Root, w.state, dev
	newSysfs = func(string) bus.Sysfs {
		return bus.Sysfs{Root: s.Root, OnWrite: func(path, data string) {
			w.touch("sysfs write " + path)
			kernel(path, data)
		}}
	}
	openNIC = func(bdf string, f *runFlags) (openedNIC, error) {
		w.touch("open " + bdf)
		return nil, errors.New("fuzz: device not opened")
	}
	createPcap = func(path string, overwrite bool) (*safefile.File, error) {
		w.touch("pcap " + path)
		return safefile.Create(filepath.Join(w.files, fmt.Sprintf("%d.pcap", len(w.touched))), overwrite)
	}
	runLabFn = func(context.Context, *env, *labFlags) error { w.touch("lab boot"); return errors.New("fuzz: no boot") }
	runRTFn = func(io.Writer, *rtCmdFlags) error { w.touch("rt probe"); return nil }
	t.Cleanup(func() {
		sysfsRoot, newSysfs, defaultStateDir, vfioDevDir = oldSysfs, oldNew, oldState, oldVFIO
		openNIC, createPcap, runLabFn, runRTFn = oldOpen, oldPcap, oldLab, oldRT
	})
	return w
}

// confine keeps paths that reach sysfs or the record folder inside the
// world: the values of --sysfs and --state-dir are replaced by the fake
// ones (the CLI trusts them as a root user's choice).
func (w *fuzzWorld) confine(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		for flag, to := range map[string]string{"--sysfs": w.root, "--state-dir": w.state} {
			switch {
			case a == flag && i+1 < len(args):
				args[i+1] = to
			case strings.HasPrefix(a, flag+"="):
				out[i] = flag + "=" + to
			}
		}
	}
	return out
}

var fuzzSeeds = []string{
	"",
	"--help",
	"help\x00help",
	"lsit",
	"list",
	"list\x00--all",
	"--dev\x000000:00:03.0",
	"--dev\x0000:03.0\x00--mode\x00napi",
	"--dev\x000000:00:03.0\x00--handler\x00capture\x00--pcap\x00rx.pcap",
	"--dev\x000000:00:03.0\x00--handler\x00capture\x00--pcap\x00rx.pcap\x00--pcap-overwrite",
	"--dev\x000000:00:03.0\x00--handler\x00forward\x00--fwd-dev\x000000:00:04.0",
	"--dev\x000000:00:06.0\x00--queues\x002\x00--irq-cpu\x000,1",
	"--dev\x000000:00:03.0\x00--metrics\x00127.0.0.1:0",
	"--dev\x000000:00:03.0\x00--metrics\x00localhost:9100",
	"--dev\x000000:00:03.0\x00--housekeeping-cpus\x000-9223372036854775807",
	"--dev\x000000:00:03.0\x00--rt-lock\x00--rt-mem-limit\x009223372036854775807",
	"--dev\x000000:00:03.0\x00--backend\x00uio",
	"--dev\x000000:00:07.0\x00--backend\x00uio\x00--mode\x00busypoll",
	"bind\x00--dev\x000000:00:05.0",
	"bind\x00--dev\x000000:00:1f.2",
	"bind\x00--dev\x000000:00:1f.2\x00--force",
	"unbind\x00--dev\x000000:00:03.0",
	"unbind\x00--dev\x000000:00:03.0\x00--force",
	"pktgen\x00--dev\x000000:00:03.0\x00--rate\x001000",
	"pktgen\x00--dev\x000000:00:03.0\x00--rt-lock",
	"rt\x00--period\x001ns",
	"rt\x00--cpu\x000\x00--duration\x001s",
	"lab\x00--nic\x00e1000e",
	"lab\x00--pcap\x00/dev/null",
	"--version",
}

// FuzzCLI runs the CLI on argument vectors (data split at NUL bytes): no
// input panics, every input ends with exit 0, 1 or 2, and an input refused
// as a usage error (2) never reached a step that opens a device, writes
// sysfs, makes a capture file, boots the lab or runs the probe.
func FuzzCLI(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		if len(data) > 1024 {
			t.Skip("argument vectors longer than 1 KiB are not interesting")
		}
		var args []string
		if data != "" {
			args = strings.Split(data, "\x00")
		}
		w := newFuzzWorld(t)
		args = w.confine(args)
		var o, e bytes.Buffer
		code := cliMain(args, &o, &e)
		switch code {
		case exitOK, exitFailure:
		case exitUsage:
			if len(w.touched) > 0 {
				t.Fatalf("uiodrv %q: a usage error (exit 2) after %v:\n%s", args, w.touched, e.String())
			}
		default:
			t.Fatalf("uiodrv %q: exit %d, want 0, 1 or 2:\n%s", args, code, e.String())
		}
	})
}

// TestFuzzWorldWired: valid command lines reach the fakes (so FuzzCLI's
// check can fail), and refused ones reach none.
func TestFuzzWorldWired(t *testing.T) {
	for _, c := range []struct {
		args string
		code int
		want string
	}{
		{"--dev\x000000:00:03.0\x00--irq-cpu\x00-1", exitFailure, "open 0000:00:03.0"},
		{"--dev\x0000:03.0\x00--irq-cpu\x00-1\x00--handler\x00capture\x00--pcap\x00x.pcap", exitFailure, "pcap x.pcap"},
		{"bind\x00--dev\x000000:00:07.0", exitOK, "sysfs write"},
		{"lab", exitFailure, "lab boot"},
		{"rt\x00--cpu\x000", exitOK, "rt probe"},
		{"--dev\x000000:00:03.0\x00--metrics\x00localhost:1", exitUsage, ""},
		{"unbind\x00--dev\x000000:00:03.0", exitFailure, ""},
	} {
		t.Run("", func(t *testing.T) {
			w := newFuzzWorld(t)
			var o, e bytes.Buffer
			args := w.confine(strings.Split(c.args, "\x00"))
			code := cliMain(args, &o, &e)
			got := strings.Join(w.touched, "; ")
			if code != c.code || (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("uiodrv %q: exit %d, reached %q; want %d and %q\n%s", args, code, got, c.code, c.want, e.String())
			}
		})
	}
}
