package qemu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// The lab lock serialises lab boots (two TCG guests on a small machine slow
// each other past their timeouts) and the replacement of the emulator by
// EnsureQEMU. It lives in a folder of the user who runs the lab, mode 0700,
// so that no other user can hold it and stall every lab run (a lock file in
// /tmp itself, mode 0666, could be held by anyone). The holder writes its
// PID into the file; a waiter gives up after LabLockTimeout and names it.

// LabLockDir is the lab lock's folder: TMPDIR/uiodrv-lab-UID.
func LabLockDir() string {
	return filepath.Join(os.TempDir(), "uiodrv-lab-"+strconv.Itoa(os.Geteuid()))
}

// LabLockPath is the lock file. From a shell: flock $(LabLockPath) COMMAND.
func LabLockPath() string { return filepath.Join(LabLockDir(), "lock") }

// LabLockTimeout is how long LockLab waits for another holder; the
// environment variable UIODRV_LAB_LOCK_TIMEOUT (a Go duration) overrides
// it. A queue of other engineers' boots can take this long.
var LabLockTimeout = 30 * time.Minute

// ErrLabLockTimeout is wrapped when the lock stayed held past the timeout.
var ErrLabLockTimeout = errors.New("lab lock: still held")

// labHeld counts the lab locks this process holds.
var labHeld atomic.Int32

// LockLab waits for the lab lock and returns the function that releases
// it. Each call takes the lock anew (flock on its own open file), so two
// holders in one process exclude each other too.
func LockLab() (func(), error) {
	timeout := LabLockTimeout
	if s := os.Getenv("UIODRV_LAB_LOCK_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("lab lock: UIODRV_LAB_LOCK_TIMEOUT=%q: want a positive Go duration such as 45m", s)
		}
		timeout = d
	}
	return lockLabAt(LabLockDir(), timeout)
}

// lockLabAt takes the lock in dir, which it makes (0700) or checks: a
// folder, not a link, owned by this user, writable by no one else.
func lockLabAt(dir string, timeout time.Duration) (func(), error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return nil, fmt.Errorf("lab lock: %w", os.NewSyscallError("lstat "+dir, err))
	}
	uid := os.Geteuid()
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != uid || st.Mode&0o077 != 0 {
		return nil, fmt.Errorf("lab lock: %s must be a folder of uid %d with mode 0700 (it is mode %#o, uid %d): remove it, and the next lab run makes it",
			dir, uid, st.Mode&0o7777, st.Uid)
	}
	p := filepath.Join(dir, "lock")
	fd, err := unix.Open(p, unix.O_CREAT|unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab lock: %w", os.NewSyscallError("open "+p, err))
	}
	f := os.NewFile(uintptr(fd), p)
	deadline := time.Now().Add(timeout)
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lab lock %s: %w", p, os.NewSyscallError("flock", err))
		}
		if time.Now().After(deadline) {
			holder := lockHolder(f)
			f.Close()
			return nil, fmt.Errorf("%w: %s is held by %s after %v of waiting: wait for it to finish, stop it, or raise UIODRV_LAB_LOCK_TIMEOUT",
				ErrLabLockTimeout, p, holder, timeout)
		}
		time.Sleep(min(200*time.Millisecond, time.Until(deadline)+time.Millisecond))
	}
	// Name the holder for whoever waits next.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if unix.Ftruncate(fd, 0) == nil {
		_, _ = unix.Pwrite(fd, pid, 0)
	}
	labHeld.Add(1)
	return func() {
		labHeld.Add(-1)
		_ = unix.Ftruncate(fd, 0)
		_ = unix.Flock(fd, unix.LOCK_UN)
		f.Close()
	}, nil
}

// lockHolder reads the holder's PID from the lock file and its command
// from /proc: "PID 123 (go)", or what is known.
func lockHolder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return "a process that has not written its PID yet"
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return fmt.Sprintf("PID %d", pid)
	}
	return fmt.Sprintf("PID %d (%s)", pid, strings.TrimSpace(string(comm)))
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
