//go:build !race

// The race detector maps terabytes of shadow memory read-write: mlockall
// would try to populate it. This test runs without -race only.

package rt

import (
	"os"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"
)

func TestLockMemory(t *testing.T) {
	var lim unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
	if !hasCap(unix.CAP_IPC_LOCK) && lim.Max != unix.RLIM_INFINITY {
		err := LockMemory()
		if err == nil || !strings.Contains(err.Error(), "RLIMIT_MEMLOCK") {
			t.Fatalf("LockMemory with a finite limit and no CAP_IPC_LOCK = %v, want an error naming RLIMIT_MEMLOCK", err)
		}
		t.Skip("cannot lock memory here; the refusal was checked")
	}
	if err := LockMemory(); err != nil {
		t.Fatal(err)
	}
	defer UnlockMemory()
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmLck:") {
			if f := strings.Fields(l); len(f) < 2 || f[1] == "0" {
				t.Errorf("after LockMemory %s, want locked pages", l)
			}
			return
		}
	}
	t.Error("no VmLck line")
}
