// Package safefile creates output files (captures) the safe way for a
// process that may run as root: a new file is created exclusively, never
// through a symbolic link, mode 0600; an existing file is never opened for
// writing: the data goes to a temporary file beside it, which Commit renames
// over it, so that a run that fails leaves the old file as it was. Only a
// regular file with one name is ever replaced: a directory, a symbolic link
// (dangling or not), a FIFO, a socket or a device is refused, and the error
// says which it is.
package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// ErrExists is wrapped when the target is a regular file and overwrite was
// not asked for.
var ErrExists = errors.New("file exists")

// ErrNotRegular is wrapped when the target exists and is not a regular file
// with one name: it is never replaced.
var ErrNotRegular = errors.New("not a regular file")

// File is an output file being written. Write to it; Commit makes it the
// target; Abort removes what was made.
type File struct {
	*os.File
	target string
	temp   bool // File is a temporary file beside target
	done   bool
}

// Target is the path the data ends up at.
func (f *File) Target() string { return f.target }

// Replaces reports whether Commit will replace an existing file.
func (f *File) Replaces() bool { return f.temp }

// Create opens target for writing. Without overwrite, target must not
// exist; it is created at once (O_EXCL, O_NOFOLLOW, 0600). With overwrite,
// an existing target must be a regular file with one name; the data then
// goes to a temporary file in the same folder (mode 0600), and target is
// untouched until Commit.
func Create(target string, overwrite bool) (*File, error) {
	if overwrite {
		st, err := os.Lstat(target)
		switch {
		case err == nil:
			if err := Replaceable(target, st); err != nil {
				return nil, err
			}
			dir, base := filepath.Split(target)
			if dir == "" {
				dir = "."
			}
			tmp, err := os.CreateTemp(dir, "."+base+".*.tmp") // O_EXCL, 0600
			if err != nil {
				return nil, fmt.Errorf("%s: temporary file beside it: %w", target, err)
			}
			return &File{File: tmp, target: target, temp: true}, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: %w", target, err)
		}
	}
	fd, err := unix.Open(target, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EEXIST) {
		// Say what is there: only a regular file can be replaced.
		st, lerr := os.Lstat(target)
		if lerr == nil {
			if rerr := Replaceable(target, st); rerr != nil {
				return nil, rerr
			}
		}
		return nil, fmt.Errorf("%w: %s", ErrExists, target)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, os.NewSyscallError("open", err))
	}
	return &File{File: os.NewFile(uintptr(fd), target), target: target}, nil
}

// Replaceable refuses a target that is not a regular file with one name,
// saying what it is. st is its Lstat.
func Replaceable(target string, st fs.FileInfo) error {
	m := st.Mode()
	var what string
	switch {
	case m.IsRegular():
		if s, ok := st.Sys().(*syscall.Stat_t); ok && s.Nlink > 1 {
			return fmt.Errorf("%w: %s has %d hard links (another name could be any file): not replacing it", ErrNotRegular, target, s.Nlink)
		}
		return nil
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link"
		if _, err := os.Stat(target); err != nil {
			what = "a dangling symbolic link"
		}
		what += " (not followed)"
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	default:
		what = fmt.Sprintf("not a regular file (mode %v)", m)
	}
	return fmt.Errorf("%w: %s is %s", ErrNotRegular, target, what)
}

// Commit makes the data the target: a temporary file is renamed over the
// target, which is checked again first (still absent, or a regular file
// with one name). A new file is already in place. The file stays open for
// writing. Commit is idempotent.
func (f *File) Commit() error {
	if f.done || !f.temp {
		f.done = true
		return nil
	}
	if st, err := os.Lstat(f.target); err == nil {
		if err := Replaceable(f.target, st); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", f.target, err)
	}
	if err := os.Rename(f.File.Name(), f.target); err != nil {
		return fmt.Errorf("%s: replace: %w", f.target, err)
	}
	f.done = true
	return nil
}

// Abort closes the file and removes what Create made (the temporary file,
// or the new target), unless Commit ran. The target of an overwrite is
// left as it was.
func (f *File) Abort() {
	f.File.Close()
	if !f.done {
		os.Remove(f.File.Name())
		f.done = true
	}
}
