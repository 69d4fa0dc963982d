package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// LabLockPath is the host-wide lock file that serialises lab boots (two TCG
// guests on a small machine slow each other past their timeouts) and the
// replacement of the emulator by EnsureQEMU. From a shell:
// flock /tmp/uiodrv-lab.lock COMMAND.
func LabLockPath() string { return filepath.Join(os.TempDir(), "uiodrv-lab.lock") }

// labHeld counts the lab locks this process holds.
var labHeld atomic.Int32

// LockLab waits for the host-wide lab lock and returns the function that
// releases it. Each call takes the lock anew (flock on its own open file), so
// two holders in one process exclude each other too.
func LockLab() (func(), error) {
	f, err := os.OpenFile(LabLockPath(), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab lock %s: %w", f.Name(), err)
	}
	labHeld.Add(1)
	return func() {
		labHeld.Add(-1)
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// lockLabUnlessHeld takes the lab lock unless this process already holds
// it (a test that locked the lab and then boots): flock would wait on
// ourselves forever.
func lockLabUnlessHeld() (func(), error) {
	if labHeld.Load() > 0 {
		return func() {}, nil
	}
	return LockLab()
}
