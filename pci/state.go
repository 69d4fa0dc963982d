package pci

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// A driver name read from a record or from the command line ends up in a
// sysfs path (bus/pci/drivers/NAME/bind): it must be a plain name. Linux
// module and driver names are letters, digits, '_' and '-'.
var driverName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$`)

// ErrBadDriverName is wrapped when a driver name is not a plain name.
var ErrBadDriverName = errors.New("pci: not a driver name")

// CheckDriverName refuses a name that is not 1-64 letters, digits, '_' or
// '-' (no '/', no "..", nothing a path could be built from).
func CheckDriverName(name string) error {
	if !driverName.MatchString(name) {
		return fmt.Errorf("%w: %q (want letters, digits, '_' or '-', at most 64)", ErrBadDriverName, name)
	}
	return nil
}

// ErrBadRecord is wrapped when a state record cannot be trusted: a symbolic
// link, not a regular file, empty, too long, or not a driver name.
var ErrBadRecord = errors.New("pci: bad driver record")

// ErrUnsafeStateDir is wrapped when the state folder is not a folder owned
// by the user running uiodrv, or others may write it.
var ErrUnsafeStateDir = errors.New("pci: unsafe state folder")

// StateDir is the folder where bind records each device's previous driver,
// one file per device (ADDR.driver, holding the driver's name, "" for
// none). Records are read without following links, and written to a
// temporary file in the folder that is renamed into place (never
// replacing a record), mode 0600.
type StateDir struct {
	Path string
	// Owner is the uid the folder must belong to: the user running
	// uiodrv, root for bind and unbind, which write sysfs.
	Owner int
}

// Record is the path of a's record.
func (d StateDir) Record(a Addr) string { return filepath.Join(d.Path, a.String()+".driver") }

// Check refuses a folder that is a symbolic link, not a folder, not owned
// by Owner, or writable by group or others. A missing folder wraps
// fs.ErrNotExist.
func (d StateDir) Check() error {
	var st unix.Stat_t
	if err := unix.Lstat(d.Path, &st); err != nil {
		return fmt.Errorf("state folder %s: %w", d.Path, os.NewSyscallError("lstat", err))
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%w: %s is not a folder (a symbolic link is not followed): remove it", ErrUnsafeStateDir, d.Path)
	case int(st.Uid) != d.Owner:
		return fmt.Errorf("%w: %s belongs to uid %d, not %d: chown %d %s, or remove it", ErrUnsafeStateDir, d.Path, st.Uid, d.Owner, d.Owner, d.Path)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%w: %s has mode %#o, writable by group or others: chmod 700 %s", ErrUnsafeStateDir, d.Path, st.Mode&0o7777, d.Path)
	}
	return nil
}

// Create makes the folder (mode 0700) if it is missing, then checks it.
func (d StateDir) Create() error {
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	return d.Check()
}

// Read returns a's recorded driver. ok is false when there is no record.
// A record that is a symbolic link (dangling or not), not a regular file,
// empty (a write cut short) or not a driver name wraps ErrBadRecord.
func (d StateDir) Read(a Addr) (driver string, ok bool, err error) {
	p := d.Record(a)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return "", false, nil
	case errors.Is(err, unix.ELOOP):
		return "", false, fmt.Errorf("%w: %s is a symbolic link: not following it (remove it)", ErrBadRecord, p)
	case err != nil:
		return "", false, fmt.Errorf("read record %s: %w", p, os.NewSyscallError("open", err))
	}
	fh := os.NewFile(uintptr(fd), p)
	defer fh.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", false, fmt.Errorf("read record %s: %w", p, os.NewSyscallError("fstat", err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", false, fmt.Errorf("%w: %s is not a regular file (remove it)", ErrBadRecord, p)
	}
	b, err := io.ReadAll(io.LimitReader(fh, 128))
	if err != nil {
		return "", false, fmt.Errorf("read record %s: %w", p, err)
	}
	if len(b) == 0 {
		return "", false, fmt.Errorf("%w: %s is empty (a write cut short?): the previous driver is unknown", ErrBadRecord, p)
	}
	drv := strings.TrimSuffix(string(b), "\n")
	if drv == "" {
		return "", true, nil // recorded: no driver before bind
	}
	if err := CheckDriverName(drv); err != nil {
		return "", false, fmt.Errorf("%w: %s: %w", ErrBadRecord, p, err)
	}
	return drv, true, nil
}

// Write records driver for a unless a record exists: it reports whether it
// wrote one. The record is written to a temporary file in the folder,
// synced, and renamed into place without replacing anything, so a reader
// sees a whole record or none. An existing entry that is not a sound record
// (a dangling link, an empty file) wraps ErrBadRecord and is left alone.
func (d StateDir) Write(a Addr, driver string) (bool, error) {
	if driver != "" {
		if err := CheckDriverName(driver); err != nil {
			return false, fmt.Errorf("record %s: %w", a, err)
		}
	}
	if _, ok, err := d.Read(a); err != nil || ok {
		return false, err
	}
	tmp, err := os.CreateTemp(d.Path, "."+a.String()+".*.tmp") // O_EXCL, mode 0600
	if err != nil {
		return false, fmt.Errorf("record %s: %w", a, err)
	}
	defer os.Remove(tmp.Name()) // after a rename: ENOENT, ignored
	_, werr := tmp.WriteString(driver + "\n")
	werr = errors.Join(werr, tmp.Sync(), tmp.Close())
	if werr != nil {
		return false, fmt.Errorf("record %s: %w", a, werr)
	}
	err = unix.Renameat2(unix.AT_FDCWD, tmp.Name(), unix.AT_FDCWD, d.Record(a), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		// Another bind recorded first: keep its record, which holds the
		// original driver.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record %s: %w", a, os.NewSyscallError("renameat2", err))
	}
	return true, nil
}

// Remove deletes a's record (whatever it is: a link is removed, not
// followed). A missing record is not an error.
func (d StateDir) Remove(a Addr) error {
	if err := os.Remove(d.Record(a)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove record: %w", err)
	}
	return nil
}
