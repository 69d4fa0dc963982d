package qemu

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// ModuleRoot returns the root of the uiodrv source tree that the current
// directory is in (where go.mod is), or an error outside it.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (the lab builds guest binaries with the go tool)", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the uiodrv source tree: run from it, or set Config.Init")
	}
	return filepath.Dir(gomod), nil
}

var buildMu sync.Mutex

// BuildStatic builds the Go package pkg (an import path or ./dir relative to
// the module root) as a static linux/amd64 binary at out.
func BuildStatic(pkg, out string) error {
	return goTool("build", pkg, out)
}

// BuildTest compiles the tests of package pkg as a static binary at out
// (go test -c), to be run in the guest.
func BuildTest(pkg, out string) error {
	return goTool("test", pkg, out)
}

func goTool(verb, pkg, out string) error {
	buildMu.Lock()
	defer buildMu.Unlock()
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := []string{verb}
	if verb == "test" {
		args = append(args, "-c")
	}
	args = append(args, "-trimpath", "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}
