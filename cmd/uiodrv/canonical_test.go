package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
)

// TestCanonicalAddress: a short or upper-case --dev or --fwd-dev reaches the
// open under the canonical address, with its model found (it once failed at
// the open with "device model not looked up").
func TestCanonicalAddress(t *testing.T) {
	vfioDevDir = t.TempDir()
	t.Cleanup(func() { vfioDevDir = bus.DefaultVFIODir })
	for _, n := range []string{"vfio", "3", "4"} {
		if err := os.WriteFile(filepath.Join(vfioDevDir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := fakeSysfs(t, []string{"vfio-pci"}, "64",
		fakeDev{"0000:7f:06.0", "0x8086", e1000ID, netCls, "vfio-pci", 3, ""},
		fakeDev{"0000:7f:0a.0", "0x8086", e1000ID, netCls, "vfio-pci", 4, ""},
	)
	var got []string
	old := openNIC
	openNIC = func(bdf string, f *runFlags) (openedNIC, error) {
		got = append(got, fmt.Sprintf("%s %v", bdf, f.models[bdf].Family.Name))
		return nil, errors.New("test: open refused")
	}
	defer func() { openNIC = old }()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dev", "7f:06.0"}, "0000:7f:06.0 e1000"},
		{[]string{"--dev", "0000:7F:06.0"}, "0000:7f:06.0 e1000"},
		{[]string{"--dev", "7F:06.0", "--handler", "forward", "--fwd-dev", "7F:0A.0"}, "0000:7f:0a.0 e1000"},
	} {
		got = nil
		code, _, errOut := runCLI(append([]string{"--sysfs", s.Root, "--mode", "napi", "--irq-cpu", "-1"}, c.args...)...)
		if code != exitFailure || len(got) != 1 || got[0] != c.want {
			t.Errorf("%v: exit %d, opened %q, want %q:\n%s", c.args, code, got, c.want, errOut)
		}
	}
}
