package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// ErrNoQEMU is returned when qemu-system-x86_64 is missing and could not be installed.
var ErrNoQEMU = errors.New("qemu: qemu-system-x86_64 not found")

// QEMUBinary is the emulator the lab runs.
const QEMUBinary = "qemu-system-x86_64"

// CacheDir returns the folder where the lab caches downloads and builds:
// $XDG_CACHE_HOME/uiodrv, or ~/.cache/uiodrv.
func CacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find cache folder: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	dir := filepath.Join(base, "uiodrv")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cache folder: %w", err)
	}
	return dir, nil
}

// HaveQEMU reports whether the emulator is on PATH.
func HaveQEMU() bool {
	_, err := exec.LookPath(QEMUBinary)
	return err == nil
}

var aptMu sync.Mutex

// aptGet runs apt-get (through sudo when not root) with a non-interactive frontend.
func aptGet(args ...string) error {
	aptMu.Lock()
	defer aptMu.Unlock()
	name := "apt-get"
	if os.Geteuid() != 0 {
		args = append([]string{"-n", "apt-get"}, args...)
		name = "sudo"
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(out.String(), 2000))
	}
	return nil
}

var aptUpdated bool

func aptUpdateOnce() error {
	if aptUpdated {
		return nil
	}
	if err := aptGet("update"); err != nil {
		return err
	}
	aptUpdated = true
	return nil
}

// EnsurePackages installs the Debian packages whose commands are missing.
// cmds maps a command name to the package that provides it.
func EnsurePackages(cmds map[string]string) error {
	var missing []string
	for cmd, pkg := range cmds {
		if _, err := exec.LookPath(cmd); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := aptUpdateOnce(); err != nil {
		return err
	}
	args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	return aptGet(args...)
}

// EnsureQEMU installs qemu-system-x86 (and dpkg-deb, apt-get's helpers) when missing.
func EnsureQEMU() error {
	err := EnsurePackages(map[string]string{QEMUBinary: "qemu-system-x86", "dpkg-deb": "dpkg"})
	if err != nil {
		return fmt.Errorf("%w: install it with 'apt-get install qemu-system-x86': %v", ErrNoQEMU, err)
	}
	if !HaveQEMU() {
		return ErrNoQEMU
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
