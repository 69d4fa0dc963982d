package qemu

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ulikunitz/xz"
)

// A staged kernel's modules: which it ships, their dependency closure and
// metadata, and the kernel's build configuration.

// modName normalises a module name the way the kernel does: '-' becomes '_'.
func modName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// HasModule reports whether the kernel ships the named module.
// A built-in kernel ships none.
func (k *Kernel) HasModule(name string) bool { _, ok := k.mods[modName(name)]; return ok }

// readModule returns a module's ELF image, decompressing a .ko.xz: the
// guest then loads a plain .ko, whatever its kernel's decompression support.
func readModule(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".xz") {
		return b, err
	}
	r, err := xz.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", path, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", path, err)
	}
	return out, nil
}

// ModuleInfo reads the key=value strings of a module's .modinfo section.
func ModuleInfo(path string) (map[string][]string, error) {
	img, err := readModule(path)
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", path, err)
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("read module %s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read module %s .modinfo: %w", path, err)
	}
	info := map[string][]string{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		key, val, ok := strings.Cut(string(kv), "=")
		if ok {
			info[key] = append(info[key], val)
		}
	}
	return info, nil
}

// ModuleClosure returns the named modules and everything they depend on
// (the depends= field of .modinfo), each after its dependencies, with no
// duplicates. Module names may use '-' or '_'.
func (k *Kernel) ModuleClosure(names ...string) ([]ModuleFile, error) {
	if k.BuiltIn {
		return nil, nil // everything the lab loads is built in (kernelsrc.config)
	}
	var out []ModuleFile
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var visit func(name string, from []string) error
	visit = func(name string, from []string) error {
		name = modName(name)
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle: %s -> %s", strings.Join(from, " -> "), name)
		case 2:
			return nil
		}
		path, ok := k.mods[name]
		if !ok {
			return fmt.Errorf("kernel %s has no module %q (needed by %v)", k.Version, name, from)
		}
		state[name] = 1
		info, err := ModuleInfo(path)
		if err != nil {
			return err
		}
		for _, deps := range info["depends"] {
			for _, d := range strings.Split(deps, ",") {
				if d = strings.TrimSpace(d); d != "" {
					if err := visit(d, append(from, name)); err != nil {
						return err
					}
				}
			}
		}
		state[name] = 2
		rel, _ := filepath.Rel(k.Root, path)
		out = append(out, ModuleFile{Name: name, Host: path, Guest: "/" + strings.TrimSuffix(rel, ".xz")})
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ModuleFile is a module's file on the host (.ko or .ko.xz) and its path
// in the guest (always a plain .ko).
type ModuleFile struct {
	Name  string
	Host  string
	Guest string
}

// Config returns the value of a kernel configuration option ("y", "m", a
// number or string) from the package's boot/config-VERSION, or "" when the
// option is not set.
func (k *Kernel) Config(option string) (string, error) {
	b, err := os.ReadFile(filepath.Join(k.Root, "boot", "config-"+k.Version))
	if err != nil {
		return "", fmt.Errorf("kernel %s config: %w", k.Version, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, option+"="); ok {
			return strings.Trim(v, `"`), nil
		}
	}
	return "", nil
}
