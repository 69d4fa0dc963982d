package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
	return aptGetLocked(args...)
}

// aptGetLocked is aptGet for a caller holding aptMu. apt's own lock is
// waited for (another process may be running apt) rather than failed on.
func aptGetLocked(args ...string) error {
	args = append([]string{"-o", "DPkg::Lock::Timeout=600"}, args...)
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

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

var aptUpdated bool

func aptUpdateOnce() error {
	aptMu.Lock()
	defer aptMu.Unlock()
	if aptUpdated {
		return nil
	}
	if err := aptGetLocked("update"); err != nil {
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

// MinQEMU is the oldest QEMU the lab accepts: 8.0 added -device igb.
var MinQEMU = [2]int{8, 0}

// QEMUPackage is the Debian package of the emulator.
const QEMUPackage = "qemu-system-x86"

var qemuVersionRE = regexp.MustCompile(`version (\d+)\.(\d+)(?:\.(\d+))?`)

// parseQEMUVersion reads "QEMU emulator version 10.0.2 (Debian ...)".
func parseQEMUVersion(out string) (major, minor, patch int, err error) {
	m := qemuVersionRE.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, 0, fmt.Errorf("no version in %q", tail(out, 200))
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		patch, _ = strconv.Atoi(m[3])
	}
	return major, minor, patch, nil
}

func versionAtLeast(major, minor int, min [2]int) bool {
	return major > min[0] || (major == min[0] && minor >= min[1])
}

// QEMUVersion runs qemu-system-x86_64 --version and returns its version
// ("10.0.2") and whether it is at least MinQEMU.
func QEMUVersion() (string, bool, error) {
	out, err := exec.Command(QEMUBinary, "--version").CombinedOutput()
	if err != nil {
		return "", false, fmt.Errorf("%s --version: %w", QEMUBinary, err)
	}
	ma, mi, pa, err := parseQEMUVersion(string(out))
	if err != nil {
		return "", false, fmt.Errorf("%s --version: %w", QEMUBinary, err)
	}
	return fmt.Sprintf("%d.%d.%d", ma, mi, pa), versionAtLeast(ma, mi, MinQEMU), nil
}

var (
	qemuMu sync.Mutex
	qemuOK bool
)

// EnsureQEMU makes sure qemu-system-x86_64 is at least MinQEMU. When it is
// missing or older, it enables Debian's backports suite (EnableBackports)
// and installs qemu-system-x86 from it with apt-get, holding the lab lock
// (LockLab) so that no lab boot runs while the emulator is replaced. Once
// the emulator is new enough it runs nothing but --version.
func EnsureQEMU() error {
	qemuMu.Lock()
	defer qemuMu.Unlock()
	if qemuOK {
		return nil
	}
	if _, ok, err := QEMUVersion(); err == nil && ok {
		qemuOK = true
		return nil
	}
	if err := EnsurePackages(map[string]string{"dpkg-deb": "dpkg"}); err != nil {
		return fmt.Errorf("%w: %v", ErrNoQEMU, err)
	}
	unlock, err := lockLabUnlessHeld()
	if err != nil {
		return err
	}
	defer unlock()
	// Another process may have installed it while this one waited.
	if _, ok, err := QEMUVersion(); err == nil && ok {
		qemuOK = true
		return nil
	}
	suite, err := EnableBackports()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoQEMU, err)
	}
	if err := aptGet("install", "-y", "--no-install-recommends", "-t", suite, QEMUPackage); err != nil {
		return fmt.Errorf("%w: install it with 'apt-get install -t %s %s': %v", ErrNoQEMU, suite, QEMUPackage, err)
	}
	v, ok, err := QEMUVersion()
	switch {
	case err != nil:
		return fmt.Errorf("%w: %v", ErrNoQEMU, err)
	case !ok:
		return fmt.Errorf("%w: %s %s after installing from %s; need %d.%d or later", errOldQEMU, QEMUBinary, v, suite, MinQEMU[0], MinQEMU[1])
	}
	qemuOK = true
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
