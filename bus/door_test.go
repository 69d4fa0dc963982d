package bus

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The bus is the one door to device access: no package outside bus, vfio,
// uio and pci (and their own tests and subpackages) imports vfio, uio or pci,
// in the root module or in bench. This reads the imports of every Go file,
// test files and every build tag included.
func TestOnlyBusImportsBackends(t *testing.T) {
	const module = "github.com/uiodrv/uiodrv"
	behind := []string{"vfio", "uio", "pci"}
	inside := append([]string{"bus"}, behind...)
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	root := ".."
	var files, benchFiles, viaBus int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		if under(rel, "bench") {
			benchFiles++
		}
		for _, d := range inside {
			if under(rel, d) {
				return nil
			}
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if p == module+"/bus" {
				viaBus++
			}
			for _, b := range behind {
				if under(p, module+"/"+b) {
					t.Errorf("%s imports %s: reach it through package bus", rel, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk must have read the tree, or the test proves nothing.
	if files < 100 || benchFiles == 0 || viaBus == 0 {
		t.Fatalf("read %d Go files (%d in bench), %d importing bus: not the module", files, benchFiles, viaBus)
	}
}
