package qemu

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// rootModule is the module path of the uiodrv source tree's root.
const rootModule = "github.com/uiodrv/uiodrv"

// ModuleRoot returns the root of the uiodrv source tree that the current
// directory is in (where its go.mod is), or an error outside it. From a
// nested module of the tree (bench/, which has its own go.mod so that its
// plotting stays out of the library's dependencies) it is the directory
// above, whose go.mod declares the uiodrv module.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (the lab builds guest binaries with the go tool)", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the uiodrv source tree: run from it, or set Config.Init")
	}
	for dir := filepath.Dir(gomod); ; {
		if modulePath(filepath.Join(dir, "go.mod")) == rootModule {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return filepath.Dir(gomod), nil
		}
		dir = up
	}
}

// modulePath is the module path a go.mod declares ("" if unreadable).
func modulePath(gomod string) string {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
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
	dir := root
	if rel, ok := strings.CutPrefix(pkg, "./"); ok {
		// A folder with its own go.mod (bench/) is built in its module.
		if first, rest, _ := strings.Cut(rel, "/"); modulePath(filepath.Join(root, first, "go.mod")) != "" {
			dir, pkg = filepath.Join(root, first), "./"+rest
		}
	}
	args := []string{verb}
	if verb == "test" {
		args = append(args, "-c")
	}
	args = append(args, "-trimpath", "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}
