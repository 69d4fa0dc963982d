package main

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goListDeps lists the packages a package links, through the go tool.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestProductionBinaryLinksNoGuestInit: the lab's guest init and the
// u-root packages only it needs (module loading, mounts) stay out of
// uiodrv. The same listing of qemu/labinit must show them, or the check
// would pass by seeing nothing.
func TestProductionBinaryLinksNoGuestInit(t *testing.T) {
	guestOnly := []string{
		"github.com/uiodrv/uiodrv/qemu/guestinit",
		"github.com/u-root/u-root/pkg/kmodule",
		"github.com/u-root/u-root/pkg/mount",
	}
	cli := goListDeps(t, "github.com/uiodrv/uiodrv/cmd/uiodrv")
	init := goListDeps(t, "github.com/uiodrv/uiodrv/qemu/labinit")
	for _, p := range guestOnly {
		if slices.Contains(cli, p) {
			t.Errorf("cmd/uiodrv links %s, which only the lab's guest init (qemu/labinit) needs", p)
		}
		if !slices.Contains(init, p) {
			t.Errorf("qemu/labinit does not link %s: this test no longer sees what it guards against", p)
		}
	}
}

// TestMakeBuildInstallsLabInit: make build puts the guest init where
// uiodrv lab looks for it, under the name it looks for.
func TestMakeBuildInstallsLabInit(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(mk)
	if !strings.Contains(s, "LABINIT  := bin/"+labInitName) || !strings.Contains(s, "-o $(LABINIT) "+labInitPkg) {
		t.Errorf("Makefile does not build %s into bin/%s beside bin/uiodrv", labInitPkg, labInitName)
	}
}

// writeELF writes a minimal x86-64 ELF executable header with one program
// header: PT_INTERP (dynamically linked) or PT_LOAD (static).
func writeELF(t *testing.T, path string, dynamic bool) {
	t.Helper()
	b := make([]byte, 64+56)
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1 // ELFCLASS64, little endian, EV_CURRENT
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)  // ET_EXEC
	le.PutUint16(b[18:], 62) // EM_X86_64
	le.PutUint32(b[20:], 1)  // EV_CURRENT
	le.PutUint64(b[32:], 64) // e_phoff
	le.PutUint16(b[52:], 64) // e_ehsize
	le.PutUint16(b[54:], 56) // e_phentsize
	le.PutUint16(b[56:], 1)  // e_phnum
	ptype := uint32(1)       // PT_LOAD
	if dynamic {
		ptype = 3 // PT_INTERP
	}
	le.PutUint32(b[64:], ptype)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestLabInitFinder(t *testing.T) {
	errNoTree := errors.New("not inside the uiodrv source tree")
	cases := []struct {
		name      string
		beside    string // "", "static", "dynamic" or "garbage"
		inTree    bool
		buildErr  error
		wantBuild bool
		wantErr   []string // substrings of the error; nil: success
	}{
		{name: "installed beside", beside: "static", wantBuild: false},
		{name: "installed beside wins over the tree", beside: "static", inTree: true, wantBuild: false},
		{name: "built in the source tree", inTree: true, wantBuild: true},
		{name: "neither", wantErr: []string{labInitName, "make build", "Go toolchain"}},
		{name: "dynamic beside", beside: "dynamic", inTree: true, wantErr: []string{"dynamically linked", "make build"}},
		{name: "not an ELF beside", beside: "garbage", inTree: true, wantErr: []string{"inspect", "make build"}},
		{name: "build fails", inTree: true, buildErr: errors.New("compile error"), wantBuild: true,
			wantErr: []string{"build the lab's guest init", "compile error"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			exe := filepath.Join(dir, "uiodrv")
			installed := filepath.Join(dir, labInitName)
			switch c.beside {
			case "static", "dynamic":
				writeELF(t, installed, c.beside == "dynamic")
			case "garbage":
				if err := os.WriteFile(installed, []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var built []string
			lf := labInitFinder{
				exe: func() (string, error) { return exe, nil },
				moduleRoot: func() (string, error) {
					if c.inTree {
						return "/src/uiodrv", nil
					}
					return "", errNoTree
				},
				build: func(pkg, out string) error {
					built = append(built, pkg)
					if c.buildErr != nil {
						return c.buildErr
					}
					return os.WriteFile(out, []byte("init"), 0o755)
				},
			}
			path, cleanup, err := lf.find(io.Discard)
			defer cleanup()
			if got := len(built) > 0; got != c.wantBuild {
				t.Errorf("built %v, want a build: %v", built, c.wantBuild)
			}
			if c.wantBuild && (len(built) != 1 || built[0] != labInitPkg) {
				t.Errorf("built %v, want [%s]", built, labInitPkg)
			}
			if c.wantErr != nil {
				if err == nil {
					t.Fatalf("got %s, want an error", path)
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.beside != "" {
				if path != installed {
					t.Errorf("got %s, want the installed %s", path, installed)
				}
				return
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("built init: %v", err)
			}
			cleanup()
			if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cleanup left %s: %v", filepath.Dir(path), err)
			}
		})
	}
}
