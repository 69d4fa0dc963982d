package qemu

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLabLock: the lock lives in a folder of the running user, mode 0700,
// the file mode 0600; a second taker gives up after the timeout and names
// the holder's PID (flock waited forever before, on a 0666 file in /tmp
// that any user could hold); a folder others may write is refused.
func TestLabLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	unlock, err := lockLabAt(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("lock folder: %v %v; want mode 0700", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(dir, "lock")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v %v; want mode 0600", st.Mode(), err)
	}
	start := time.Now()
	_, err = lockLabAt(dir, 300*time.Millisecond)
	if !errors.Is(err, ErrLabLockTimeout) || !strings.Contains(err.Error(), "PID "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second taker: %v; want a timeout naming PID %d", err, os.Getpid())
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("second taker gave up after %v, want about 300ms", d)
	}
	unlock()
	unlock2, err := lockLabAt(dir, time.Second)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	unlock2()

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	if _, err := lockLabAt(open, time.Second); err == nil || !strings.Contains(err.Error(), "mode 0700") {
		t.Errorf("world-writable folder: %v", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(dir, link)
	if _, err := lockLabAt(link, time.Second); err == nil {
		t.Error("a symbolic link taken as the lock folder")
	}
}
