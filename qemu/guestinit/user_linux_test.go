package guestinit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// A command runs with the limits asked for, as the user asked for, owning
// the paths asked for; the init's own limits are as they were.
func TestStartAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change users and raise limits back")
	}
	var before unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &before); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	owned := filepath.Join(dir, "group7")
	if err := os.WriteFile(owned, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	u := &proto.User{UID: 65534, GID: 65534, Own: []string{filepath.Join(dir, "group[0-9]*")},
		// The hard limit stays: a container's root may lack CAP_SYS_RESOURCE
		// to raise it back (the guest's init has it).
		Rlimits: map[string][2]uint64{"memlock": {64 << 10, before.Max}}}
	if err := own(u); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(owned, &st); err != nil || st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("owned path: uid %d gid %d (%v), want 65534", st.Uid, st.Gid, err)
	}
	x := exec.Command("/bin/sh", "-c", "id -u; id -g; ulimit -l")
	x.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}}
	var out strings.Builder
	x.Stdout = &out
	if err := startWithLimits(x, u); err != nil {
		t.Fatal(err)
	}
	if err := x.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(out.String()); strings.Join(got, " ") != "65534 65534 64" {
		t.Errorf("the command saw %q, want uid, gid 65534 and a memlock soft limit of 64 KiB", got)
	}
	var after unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &after)
	if after != before {
		t.Errorf("the init's RLIMIT_MEMLOCK is %+v after the start, was %+v", after, before)
	}
	if err := own(&proto.User{Own: []string{filepath.Join(dir, "none*")}}); err == nil {
		t.Errorf("own of a pattern that matches nothing succeeded")
	}
	if err := startWithLimits(exec.Command("/bin/true"), &proto.User{Rlimits: map[string][2]uint64{"stack": {1, 1}}}); err == nil {
		t.Errorf("an unknown rlimit was accepted")
	}
}
