package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/bus"
)

// tree is every file and link under root, with contents and targets: what
// a refused command must leave exactly as it was.
func tree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			to, _ := os.Readlink(p)
			lines = append(lines, rel+" -> "+to)
		case d.Type().IsRegular():
			b, _ := os.ReadFile(p)
			lines = append(lines, rel+" = "+string(b))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// guardTree: an e1000 already on vfio-pci, a GPU (class 03) on vfio-pci
// (passed to a VM), and an e1000 on its kernel driver.
func guardTree(t *testing.T) bus.Sysfs {
	s := fakeSysfs(t, []string{"e1000", "vfio-pci", "nouveau"}, "",
		fakeDev{"0000:00:03.0", "0x8086", e1000ID, netCls, "vfio-pci", 3, ""},
		fakeDev{"0000:01:00.0", "0x10de", "0x1eb8", "0x030200", "vfio-pci", 4, ""},
		fakeDev{"0000:00:04.0", "0x8086", e1000ID, netCls, "e1000", 5, ""},
	)
	withKernel(t, s)
	return s
}

// Without --force unbind refuses a device with no record and one that is not
// a network controller, and writes nothing; --force still does it. Before,
// a GPU on vfio-pci with no record was unbound with exit 0.
func TestUnbindGuards(t *testing.T) {
	s := guardTree(t)
	state := filepath.Join(t.TempDir(), "state")
	for _, c := range []struct{ dev, want string }{
		{"0000:01:00.0", "(class 0302)"},
		{"0000:00:03.0", "has no record in " + state},
	} {
		before := tree(t, s.Root)
		code, out, errOut := runCLI("unbind", "--dev", c.dev, "--sysfs", s.Root, "--state-dir", state)
		if code != exitFailure || out != "" || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "--force") {
			t.Errorf("unbind %s: exit %d, stdout %q, stderr:\n%s\nwant exit 1 and %q", c.dev, code, out, errOut, c.want)
		}
		if after := tree(t, s.Root); after != before {
			t.Errorf("refused unbind %s wrote to sysfs:\n%s\nwas\n%s", c.dev, after, before)
		}
	}
	code, out, errOut := runCLI("unbind", "--dev", "0000:01:00.0", "--force", "--sysfs", s.Root, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "stays on no driver") {
		t.Errorf("unbind --force: exit %d\n%s%s", code, out, errOut)
	}
}

// A record cannot be turned against sysfs: a driver name that is a path,
// a symbolic link (followed before), an empty record (a cut-short write)
// are refused by unbind before it writes anything.
func TestUnbindUntrustedRecord(t *testing.T) {
	a := bus.MustParseAddr("0000:00:03.0")
	for _, c := range []struct {
		name, want string
		make       func(t *testing.T, rec string)
	}{
		{"traversal", "not a driver name", func(t *testing.T, rec string) {
			write(t, rec, "../../../../x\n")
		}},
		{"symlink", "is a symbolic link", func(t *testing.T, rec string) {
			other := filepath.Join(t.TempDir(), "e1000")
			write(t, other, "e1000\n")
			if err := os.Symlink(other, rec); err != nil {
				t.Fatal(err)
			}
		}},
		{"dangling", "is a symbolic link", func(t *testing.T, rec string) {
			if err := os.Symlink("/nonexistent/uiodrv", rec); err != nil {
				t.Fatal(err)
			}
		}},
		{"empty", "is empty", func(t *testing.T, rec string) { write(t, rec, "") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := guardTree(t)
			state := t.TempDir()
			c.make(t, statePath(state, a))
			// What the traversal would reach: root/bus/pci/drivers/../../../../x/bind.
			outside := filepath.Join(s.Root, "..", "x", "bind")
			write(t, outside, "")
			before := tree(t, s.Root)
			code, out, errOut := runCLI("unbind", "--dev", a.String(), "--sysfs", s.Root, "--state-dir", state)
			if code != exitFailure || out != "" || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 1 and %q", code, out, errOut, c.want)
			}
			if after := tree(t, s.Root); after != before {
				t.Errorf("unbind wrote to sysfs:\n%s\nwas\n%s", after, before)
			}
			if b, _ := os.ReadFile(outside); len(b) != 0 {
				t.Errorf("unbind wrote %q outside the sysfs root", b)
			}
		})
	}
}

// bind writes its record mode 0600 in a folder it makes 0700, refuses a
// dangling link where the record goes (it counted as a record before, and
// unbind then followed it), and refuses a record folder others may write or
// that another user owns, before it writes sysfs.
func TestBindStateDir(t *testing.T) {
	a := bus.MustParseAddr("0000:00:04.0")
	s := guardTree(t)
	state := filepath.Join(t.TempDir(), "run", "uiodrv")
	code, out, errOut := runCLI("bind", "--dev", a.String(), "--sysfs", s.Root, "--state-dir", state)
	if code != exitOK {
		t.Fatalf("bind: exit %d\n%s%s", code, out, errOut)
	}
	if st, err := os.Lstat(statePath(state, a)); err != nil || st.Mode().Perm() != 0o600 || !st.Mode().IsRegular() {
		t.Errorf("record: %v %v; want a regular file, mode 0600", st.Mode(), err)
	}
	if st, err := os.Stat(state); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("state folder: %v %v; want mode 0700", st.Mode(), err)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 1 {
		t.Errorf("state folder holds %d entries, want the record only (no temporary file left)", len(ents))
	}

	for _, c := range []struct {
		name, want string
		make       func(t *testing.T, dir string)
	}{
		{"dangling link", "is a symbolic link", func(t *testing.T, dir string) {
			if err := os.Symlink("/nonexistent/uiodrv", statePath(dir, a)); err != nil {
				t.Fatal(err)
			}
		}},
		{"empty record", "is empty", func(t *testing.T, dir string) { write(t, statePath(dir, a), "") }},
		{"group-writable", "writable by group or others", func(t *testing.T, dir string) {
			if err := os.Chmod(dir, 0o775); err != nil {
				t.Fatal(err)
			}
		}},
		{"other owner", "belongs to uid 65534", func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := guardTree(t)
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			c.make(t, dir)
			before := tree(t, s.Root)
			code, out, errOut := runCLI("bind", "--dev", a.String(), "--sysfs", s.Root, "--state-dir", dir)
			if code != exitFailure || !strings.Contains(errOut, c.want) {
				t.Errorf("bind: exit %d, stdout %q, stderr:\n%s\nwant exit 1 and %q", code, out, errOut, c.want)
			}
			if after := tree(t, s.Root); after != before {
				t.Errorf("refused bind wrote to sysfs:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

func write(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
