package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/uiodrv/uiodrv/qemu"
)

// The lab guest's PID 1 is its own small program (qemu/labinit), not uiodrv:
// the init links u-root's guest packages (module loading, mounts), which
// the production binary has no use for. uiodrv lab puts it at /init and
// itself at /bin/uiodrv.

// labInitName is the guest init's file name as make build installs it,
// beside bin/uiodrv.
const labInitName = "uiodrv-labinit"

// labInitPkg is the guest init's package, built when no installed copy is found.
const labInitPkg = "./qemu/labinit"

// labInitFinder is where labInit looks; fields are swapped in tests.
type labInitFinder struct {
	// exe is the running uiodrv; the init is looked for beside it.
	exe func() (string, error)
	// moduleRoot reports the source tree this runs in (an error outside it).
	moduleRoot func() (string, error)
	// build builds a static binary of a package of that tree.
	build func(pkg, out string) error
}

var defaultLabInitFinder = labInitFinder{exe: os.Executable, moduleRoot: qemu.ModuleRoot, build: qemu.BuildStatic}

// labInit returns a static guest init for the lab: uiodrv-labinit beside
// this executable (make build puts it there), else, inside the source tree
// with a Go toolchain, one built from ./qemu/labinit into a temporary
// directory that the returned function removes. Anything else is an error
// that names the fix.
func labInit(log io.Writer) (string, func(), error) {
	return defaultLabInitFinder.find(log)
}

func (lf labInitFinder) find(log io.Writer) (string, func(), error) {
	nop := func() {}
	exe, err := lf.exe()
	if err != nil {
		return "", nop, fmt.Errorf("find own binary to look for %s beside it: %w", labInitName, err)
	}
	beside := filepath.Join(filepath.Dir(exe), labInitName)
	switch _, err := os.Stat(beside); {
	case err == nil:
		if err := checkGuestInit(beside); err != nil {
			return "", nop, err
		}
		return beside, nop, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", nop, fmt.Errorf("look for the lab's guest init: %w", err)
	}
	// Why the tree is unusable (no go.mod, no go tool) matters less than
	// the fix, which is the same either way.
	if _, err := lf.moduleRoot(); err != nil {
		return "", nop, fmt.Errorf("no lab guest init: no %s beside %s, and no uiodrv source tree with a Go toolchain here to build %s: run make build (it puts bin/%s beside bin/uiodrv) and run bin/uiodrv lab, or copy %s beside this binary",
			labInitName, exe, labInitPkg, labInitName, labInitName)
	}
	dir, err := os.MkdirTemp("", "uiodrv-labinit-")
	if err != nil {
		return "", nop, fmt.Errorf("build the lab's guest init: %w", err)
	}
	out := filepath.Join(dir, labInitName)
	fmt.Fprintf(log, "lab: no %s beside %s; building %s for the guest\n", labInitName, exe, labInitPkg)
	if err := lf.build(labInitPkg, out); err != nil {
		os.RemoveAll(dir)
		return "", nop, fmt.Errorf("build the lab's guest init: %w", err)
	}
	return out, func() { os.RemoveAll(dir) }, nil
}

// checkGuestInit refuses an installed init that cannot be PID 1 of the
// guest, whose initramfs holds no dynamic loader or C library.
func checkGuestInit(path string) error {
	static, err := isStatic(path)
	if err != nil {
		return fmt.Errorf("inspect the lab's guest init %s: %w (rebuild it: make build)", path, err)
	}
	if !static {
		return fmt.Errorf("the lab's guest init %s is dynamically linked and cannot be the guest's /init; rebuild it static: make build", path)
	}
	return nil
}
