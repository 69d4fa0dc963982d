package doclinks

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEExampleBuilds: the README's Go example is a complete program
// against the front door as it is: it is built (go build with an overlay
// that places it in a package of this module, so nothing is written to the
// tree) and fails the test when the API it shows has moved.
func TestREADMEExampleBuilds(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	src, ok := goBlock(string(readme))
	if !ok {
		t.Fatal("README.md has no ```go block: the front door's example is missing")
	}
	if !strings.Contains(src, "package main") || !strings.Contains(src, "uiodrv.Open(") {
		t.Fatal("the README's Go example is not a program that calls uiodrv.Open")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	virtual := filepath.Join(abs, "internal", "doclinks", "readmeexample", "main.go")
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {virtual: file}})
	overlay := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlay, ov, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "build", "-overlay", overlay, "-o", os.DevNull, "./internal/doclinks/readmeexample")
	cmd.Dir = abs
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's Go example does not build: %v\n%s", err, out)
	}
}

// goBlock returns the first fenced ```go block of a markdown text.
func goBlock(md string) (string, bool) {
	_, rest, ok := strings.Cut(md, "\n```go\n")
	if !ok {
		return "", false
	}
	block, _, ok := strings.Cut(rest, "\n```")
	return block + "\n", ok
}
