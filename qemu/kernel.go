package qemu

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Kernel is a Debian kernel staged in the cache: its image and its modules.
type Kernel struct {
	Version string // uname -r, e.g. 6.1.0-56-amd64
	Package string // the Debian package it came from
	Root    string // where the package was unpacked
	Vmlinuz string // the kernel image
	// BuiltIn: the kernel has no modules (KernelSource); whatever a boot
	// asks to load is built in, and ModuleClosure returns nothing.
	BuiltIn bool

	mods map[string]string // module name (underscores) -> path below Root
}

// MetaPackage is the Debian package whose dependency names the current kernel ABI.
const MetaPackage = "linux-image-amd64"

var abiRE = regexp.MustCompile(`Depends:\s+(linux-image-[0-9][^\s]*-amd64)\b`)

// KernelSeries picks the guest kernel (Config.Kernel).
type KernelSeries int

const (
	// KernelStable is the release's own kernel: the one Debian's
	// linux-image-amd64 depends on (6.1 on Debian 12).
	KernelStable KernelSeries = iota
	// KernelBackports is the kernel of the release's backports suite (6.12
	// on Debian 12: iommufd and the VFIO device cdev). Staging it enables the
	// suite (EnableBackports) and downloads it the first time it is asked for.
	KernelBackports
	// KernelSource is built from Debian's kernel source package
	// (linux-source-7.x, sid) with a minimal configuration, everything built
	// in: the lab's only kernel with iommufd and the VFIO device cdev.
	// Staging it builds it the first time (StageSourceKernel, a few minutes).
	KernelSource
)

func (s KernelSeries) String() string {
	switch s {
	case KernelStable:
		return "stable"
	case KernelBackports:
		return "backports"
	case KernelSource:
		return "source"
	}
	if k, ok := catalogueEntry(s); ok {
		return k.Name
	}
	return fmt.Sprintf("KernelSeries(%d)", int(s))
}

// kernelABIPackage asks apt which kernel image linux-image-amd64 (of suite,
// or of the default release when suite is "") depends on.
func kernelABIPackage(suite string) (string, error) {
	meta := MetaPackage
	if suite != "" {
		meta += "/" + suite
	}
	query := func() (string, error) {
		out, err := exec.Command("apt-cache", "depends", meta).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("apt-cache depends %s: %w: %s", meta, err, tail(string(out), 500))
		}
		m := abiRE.FindSubmatch(out)
		if m == nil {
			return "", fmt.Errorf("apt-cache depends %s: no linux-image-*-amd64 dependency in %q", meta, tail(string(out), 300))
		}
		return string(m[1]), nil
	}
	name, err := query()
	if err == nil {
		return name, nil
	}
	// A fresh machine has no package lists yet.
	if uerr := aptUpdateOnce(); uerr != nil {
		return "", errors.Join(err, uerr)
	}
	return query()
}

var stageMu sync.Mutex

// StageKernel makes the release's own Debian kernel (KernelStable)
// available in the cache, downloading it only the first time, and indexes
// its modules.
func StageKernel() (*Kernel, error) { return StageKernelSeries(KernelStable) }

// StageKernelSeries is StageKernel for either series. Backports kernels are
// cached apart (kernel/backports/), so the offline fallback of one series
// never picks the other's.
func StageKernelSeries(series KernelSeries) (*Kernel, error) {
	if series == KernelSource {
		return StageSourceKernel()
	}
	if k, ok := catalogueEntry(series); ok && k.suite != "" {
		return stageCatalogueKernel(k) // a later suite's (kernels.go)
	}
	stageMu.Lock()
	defer stageMu.Unlock()
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cache, "kernel")
	suite := ""
	switch series {
	case KernelStable:
	case KernelBackports:
		dir = filepath.Join(dir, "backports")
		if suite, err = EnableBackports(); err != nil {
			if k, cerr := newestCachedKernel(dir); cerr == nil {
				return k, nil
			}
			return nil, fmt.Errorf("stage %s kernel: %w", series, err)
		}
	default:
		return nil, fmt.Errorf("stage kernel: unknown series %v", series)
	}
	image, err := kernelABIPackage(suite)
	if err != nil {
		// Offline with a staged kernel is fine: use what the cache has.
		if k, cerr := newestCachedKernel(dir); cerr == nil {
			return k, nil
		}
		return nil, fmt.Errorf("stage %s kernel: %w", series, err)
	}
	pkg := image + "-unsigned"
	root := filepath.Join(dir, pkg)
	if _, err := os.Stat(filepath.Join(root, ".staged")); err != nil {
		if err := downloadKernel(pkg, root); err != nil {
			return nil, err
		}
	}
	return openKernel(root, pkg)
}

func newestCachedKernel(dir string) (*Kernel, error) {
	dirs, _ := filepath.Glob(filepath.Join(dir, "*", ".staged"))
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no staged kernel in %s", dir)
	}
	sort.Strings(dirs)
	root := filepath.Dir(dirs[len(dirs)-1])
	return openKernel(root, filepath.Base(root))
}

func downloadKernel(pkg, root string) error {
	if err := EnsurePackages(map[string]string{"dpkg-deb": "dpkg", "apt-get": "apt"}); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), "download-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("apt-get", "download", pkg)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		// The package lists may be stale: refresh once and retry.
		if uerr := aptUpdateOnce(); uerr != nil {
			return fmt.Errorf("apt-get download %s: %w: %s", pkg, err, tail(string(out), 500))
		}
		cmd = exec.Command("apt-get", "download", pkg)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get download %s: %w: %s", pkg, err, tail(string(out), 500))
		}
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download %s: expected one .deb, found %v", pkg, debs)
	}
	unpack := filepath.Join(tmp, "root")
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], unpack).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w: %s", debs[0], err, out)
	}
	if err := os.WriteFile(filepath.Join(unpack, ".staged"), []byte(filepath.Base(debs[0])+"\n"), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(root)
	if err := os.Rename(unpack, root); err != nil {
		return fmt.Errorf("stage kernel: %w", err)
	}
	return nil
}

func openKernel(root, pkg string) (*Kernel, error) {
	images, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(images) != 1 {
		return nil, fmt.Errorf("stage kernel %s: expected one boot/vmlinuz-*, found %v", pkg, images)
	}
	k := &Kernel{
		Package: pkg,
		Root:    root,
		Vmlinuz: images[0],
		Version: strings.TrimPrefix(filepath.Base(images[0]), "vmlinuz-"),
		mods:    map[string]string{},
	}
	modDir := filepath.Join(root, "lib", "modules", k.Version)
	err := filepath.WalkDir(modDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		// Debian's 6.1 ships plain .ko files, its 6.12 .ko.xz.
		for _, ext := range []string{".ko", ".ko.xz"} {
			if strings.HasSuffix(path, ext) {
				k.mods[modName(strings.TrimSuffix(d.Name(), ext))] = path
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index modules of %s: %w", k.Version, err)
	}
	if len(k.mods) == 0 {
		return nil, fmt.Errorf("stage kernel %s: no modules under %s", pkg, modDir)
	}
	return k, nil
}

// CyclictestPackages are the Debian packages whose files StageCyclictest puts
// in the guest: rt-tests (cyclictest) and the libraries it links.
var CyclictestPackages = []string{"rt-tests", "libnuma1", "libc6"}

// CyclictestGuest is where StageCyclictest's binary lands in the guest.
const CyclictestGuest = "/bin/cyclictest"

// StageCyclictest downloads Debian's rt-tests and the shared libraries
// cyclictest needs (apt-get download, unpacked on the host, cached), and
// returns the files to copy into the guest: /bin/cyclictest, its dynamic
// loader and libraries at the paths the loader searches by default (the
// guest has no ld.so.cache). cyclictest is the standard real-time probe, the
// one the kernel's own numbers in FACTS.md were measured with.
func StageCyclictest() ([]File, error) {
	stageMu.Lock()
	defer stageMu.Unlock()
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(cache, "rt-tests")
	if _, err := os.Stat(filepath.Join(root, ".staged")); err != nil {
		if err := downloadDebs(root, CyclictestPackages...); err != nil {
			return nil, fmt.Errorf("stage cyclictest: %w", err)
		}
	}
	bin := filepath.Join(root, "usr/bin/cyclictest")
	files := []File{{Host: bin, Guest: CyclictestGuest}}
	f, err := elf.Open(bin)
	if err != nil {
		return nil, fmt.Errorf("stage cyclictest: %w", err)
	}
	needed, err := f.ImportedLibraries()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("stage cyclictest: %s: %w", bin, err)
	}
	const libdir = "/lib/x86_64-linux-gnu"
	for _, lib := range append(needed, "ld-linux-x86-64.so.2") {
		host, err := findLib(root, lib)
		if err != nil {
			return nil, fmt.Errorf("stage cyclictest: %w", err)
		}
		files = append(files, File{Host: host, Guest: libdir + "/" + lib})
		if lib == "ld-linux-x86-64.so.2" { // the ELF interpreter's path
			files = append(files, File{Host: host, Guest: "/lib64/" + lib})
		}
	}
	return files, nil
}

// findLib finds a library below root (a Debian package tree) and resolves its
// symbolic links inside root: an absolute link target means root's copy, not
// the host's.
func findLib(root, name string) (string, error) {
	for _, dir := range []string{"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"} {
		p := filepath.Join(root, dir, name)
		for range 8 {
			fi, err := os.Lstat(p)
			if err != nil {
				break
			}
			if fi.Mode()&fs.ModeSymlink == 0 {
				return p, nil
			}
			t, err := os.Readlink(p)
			if err != nil {
				break
			}
			if filepath.IsAbs(t) {
				p = filepath.Join(root, t)
			} else {
				p = filepath.Join(filepath.Dir(p), t)
			}
		}
	}
	return "", fmt.Errorf("library %s not in the packages %v unpacked at %s", name, CyclictestPackages, root)
}

// downloadDebs downloads pkgs with apt-get download and unpacks them all into
// root (replaced as a whole once everything is unpacked).
func downloadDebs(root string, pkgs ...string) error {
	if err := EnsurePackages(map[string]string{"dpkg-deb": "dpkg", "apt-get": "apt"}); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), "download-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	get := func() error {
		cmd := exec.Command("apt-get", append([]string{"download"}, pkgs...)...)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get download %s: %w: %s", strings.Join(pkgs, " "), err, tail(string(out), 500))
		}
		return nil
	}
	if err := get(); err != nil {
		// The package lists may be stale: refresh once and retry.
		if uerr := aptUpdateOnce(); uerr != nil {
			return err
		}
		if err := get(); err != nil {
			return err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != len(pkgs) {
		return fmt.Errorf("apt-get download %s: expected %d .deb files, found %v", strings.Join(pkgs, " "), len(pkgs), debs)
	}
	unpack := filepath.Join(tmp, "root")
	var names []string
	for _, d := range debs {
		if out, err := exec.Command("dpkg-deb", "-x", d, unpack).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %w: %s", d, err, out)
		}
		names = append(names, filepath.Base(d))
	}
	if err := os.WriteFile(filepath.Join(unpack, ".staged"), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(root)
	return os.Rename(unpack, root)
}
