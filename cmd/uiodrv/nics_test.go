package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
)

// The CLI names no driver family: everything it says about one comes from
// the registry. This reads its non-test Go files for family names.
func TestNamesNoFamily(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`(?i)e1000|igb`)
	for _, fn := range files {
		if strings.HasSuffix(fn, "_test.go") {
			continue
		}
		b, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if names.MatchString(line) {
				t.Errorf("%s:%d names a family: %s", fn, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// A family's refusal (driver.OptionError) reaches the user as a usage error
// naming the run command's flag and value, before anything is opened.
func TestFamilyRefusals(t *testing.T) {
	root := runTree(t)
	opened := noOpen(t)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"MSI-X on the 82540EM", []string{"--dev", "0000:00:03.0", "--msix"}, "--msix: 0000:00:03.0 is an 82540EM, which has no MSI-X"},
		{"an interval above EITR's", []string{"--dev", "0000:00:06.0", "--itr", "65535"}, "--itr 65535: 0000:00:06.0 is an 82576, which throttles interrupts at most 16.383ms apart"},
		{"a ring of 24 on the 82540EM", []string{"--dev", "0000:00:03.0", "--ring-size", "24"}, "--ring-size 24: 0000:00:03.0 is an 82540EM, which cannot take rings of 24 descriptors: want a power of two from 8 to 4096"},
		{"a ring no family takes", []string{"--dev", "0000:00:06.0", "--ring-size", "100"}, "--ring-size 100: want a multiple of 8 from 8 to 4096 (igb); a power of two from 8 to 32768 (virtio); a power of two from 8 to 4096 (e1000)"},
	} {
		code, out, errOut := runCLI(append([]string{"--sysfs", root, "--mode", "tasklet"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, want %d and %q:\n%s%s", c.name, code, exitUsage, c.want, out, errOut)
		}
	}
	if *opened != 0 {
		t.Fatalf("a refused run opened the device %d times", *opened)
	}
}

// The run opens each device with the options its flags say, in the
// family-neutral form: --queues for --dev only, --itr in 256 ns units.
func TestRunOpenOptions(t *testing.T) {
	f := &runFlags{queues: 4, ringSize: 256, itr: 500, msix: true, promisc: true, hugepages: true,
		parsedBack: driver.BackendVFIO, parsedMode: deferral.ModeBusyPoll}
	var err error
	if f.addr, err = parseDev("0000:00:06.0"); err != nil {
		t.Fatal(err)
	}
	other, _ := parseDev("0000:00:07.0")
	want := driver.OpenOptions{Backend: driver.BackendVFIO, Hugepages: true, Poll: true, Queues: 4,
		RingSize: 256, ITR: 128 * time.Microsecond, MSIX: true, Promisc: true}
	if got := f.openOptions(f.addr); got != want {
		t.Errorf("--dev: %+v, want %+v", got, want)
	}
	want.Queues = 1
	if got := f.openOptions(other); got != want {
		t.Errorf("forward device: %+v, want %+v", got, want)
	}
}

// The help and the unsupported-device hint list what the registry holds.
func TestSupportedFromRegistry(t *testing.T) {
	var all []string
	for _, fam := range driver.Families() {
		for _, m := range fam.Models {
			all = append(all, fmt.Sprintf("%04x", m.ID.Device), m.Name)
		}
		all = append(all, fam.Name+":")
	}
	if len(all) == 0 {
		t.Fatal("no family registered")
	}
	hint := hintFor(driver.ErrUnsupportedDevice)
	for _, s := range all {
		for what, text := range map[string]string{"help": topUsage, "run help": runUsage, "hint": hint} {
			if !strings.Contains(text, s) {
				t.Errorf("%s lacks %q", what, s)
			}
		}
	}
}

// The lab takes the emulated models a family drives, and refuses what the
// family refuses before anything boots.
func TestLabNICs(t *testing.T) {
	for _, c := range []struct {
		nic, backend, mode string
		ok                 bool
	}{
		{"e1000", "vfio", "napi", true},
		{"e1000e", "uio", "threaded", true},
		{"igb", "vfio", "napi", true},
		{"igb", "uio", "busypoll", true},
		{"igb", "uio", "napi", false},
		{"virtio", "vfio", "napi", false},
	} {
		f := &labFlags{nic: c.nic, mode: c.mode, backend: c.backend, rate: 100, duration: time.Second, size: 128, kernel: "stable"}
		f.log.level, f.log.format = "info", "console"
		err := f.validate()
		if (err == nil) != c.ok {
			t.Errorf("lab --nic %s --backend %s --mode %s: %v, want ok=%v", c.nic, c.backend, c.mode, err, c.ok)
		}
	}
}
