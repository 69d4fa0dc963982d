package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/deferral"
)

// CLI messages: a mistyped command is an unknown command with the nearest
// one suggested (it was "uiodrv run: unexpected argument"), help help
// exits 0 (it exited 2), and --help names every command and mode and the
// igb family.
func TestCLIMessages(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"lsit"}, exitUsage, `unknown command "lsit" (did you mean list?)`},
		{[]string{"bnid", "--dev", "0000:00:03.0"}, exitUsage, "(did you mean bind?)"},
		{[]string{"unbnid"}, exitUsage, "(did you mean unbind?)"},
		{[]string{"0000:00:03.0"}, exitUsage, "to run on that NIC: uiodrv --dev 0000:00:03.0"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"; the commands are`},
		{[]string{"help", "lsit"}, exitUsage, "(did you mean list?)"},
	} {
		code, out, errOut := runCLI(c.args...)
		if code != c.code || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("uiodrv %v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
	if code, out, _ := runCLI("help", "help"); code != exitOK || out != topUsage {
		t.Errorf("help help: exit %d", code)
	}
	for _, w := range []string{"igb", "82576", "unbind --dev", "bind --dev", "[run]", "list", "lab", "pktgen", "rt", "127.0.0.1:9100"} {
		if !strings.Contains(topUsage, w) {
			t.Errorf("--help lacks %q", w)
		}
	}
	for _, m := range deferral.Modes() {
		if !strings.Contains(topUsage, m.String()) {
			t.Errorf("--help lacks mode %v", m)
		}
	}
	for n := range commands {
		if !strings.Contains(topUsage, "uiodrv "+n) && n != "run" {
			t.Errorf("--help lacks command %s", n)
		}
	}
}

// list points a machine with no NIC uiodrv drives to the lab, and says a
// NIC whose interface is up must be taken down before bind (it said "after
// bind", which bind then refused).
func TestListGuidance(t *testing.T) {
	s := fakeSysfs(t, []string{"virtio-pci", "e1000"}, "",
		fakeDev{"0000:00:05.0", "0x1af4", "0x1000", netCls, "virtio-pci", -1, ""})
	var o bytes.Buffer
	writeList(&env{stdout: &o, stderr: &o}, s, false)
	if !strings.Contains(o.String(), "uiodrv lab") {
		t.Errorf("no pointer to the lab:\n%s", o.String())
	}
	s = fakeSysfs(t, []string{"e1000"}, "",
		fakeDev{"0000:00:03.0", "0x8086", e1000ID, netCls, "e1000", 3, "eth0"})
	o.Reset()
	writeList(&env{stdout: &o, stderr: &o}, s, false)
	if out := o.String(); !strings.Contains(out, "in use: eth0 is up (ip link set eth0 down first)") || strings.Contains(out, "uiodrv lab") {
		t.Errorf("list of an e1000 that is up:\n%s", out)
	}
}
