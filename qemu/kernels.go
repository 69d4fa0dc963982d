package qemu

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The lab's kernel catalogue: guest kernels by name, each one of Debian's
// binary kernel packages. The release's own (6.1 on Debian 12) needs nothing
// more; the newer ones come from later suites (trixie: 6.12 and its
// PREEMPT_RT flavour; sid: 7.x and 7.x-rt), read through a private apt
// sources list per suite under the cache (the system's lists stay as they
// are; packages are only downloaded and unpacked, never installed). Each is
// cached under $XDG_CACHE_HOME/uiodrv/kernel/NAME/PACKAGE, so a second boot
// downloads nothing, and an offline machine boots the newest cached one.

// Kernels of later suites, named by the catalogue (KernelByName).
const (
	// KernelTrixie is Debian 13's 6.12 (linux-image-6.12.*-amd64-unsigned).
	KernelTrixie KernelSeries = iota + 100
	// KernelTrixieRT is Debian 13's PREEMPT_RT 6.12 (-rt-amd64).
	KernelTrixieRT
	// KernelSid is the development suite's 7.x, split by Debian into
	// linux-binary-* (the image), linux-modules-* (xz-compressed modules) and
	// linux-base-* (config, System.map).
	KernelSid
	// KernelSidRT is the development suite's PREEMPT_RT 7.x.
	KernelSidRT
)

// LabKernel is one entry of the catalogue.
type LabKernel struct {
	Name   string       // what --kernel takes
	Series KernelSeries // Config.Kernel
	Doc    string       // one line for usage texts
	suite  string       // Debian suite, "" for the series staged elsewhere
	meta   string       // the metapackage that names the current ABI
	image  *regexp.Regexp
}

// LabKernels is the catalogue, in the order usage texts list it.
var LabKernels = []LabKernel{
	{Name: "6.1", Series: KernelStable, Doc: "Debian 12's own kernel (the default)"},
	{Name: "6.12", Series: KernelTrixie, Doc: "Debian 13 (trixie)", suite: "trixie", meta: MetaPackage,
		image: regexp.MustCompile(`^linux-image-6\.12\.[0-9]+\+deb[0-9]+-amd64$`)},
	{Name: "6.12-rt", Series: KernelTrixieRT, Doc: "Debian 13's PREEMPT_RT", suite: "trixie", meta: "linux-image-rt-amd64",
		image: regexp.MustCompile(`^linux-image-6\.12\.[^ ]*-rt-amd64$`)},
	{Name: "7.x", Series: KernelSid, Doc: "Debian sid's 7.x", suite: "sid", meta: MetaPackage,
		image: regexp.MustCompile(`^linux-image-7\.[0-9]+\.[0-9]+\+deb[0-9]+-amd64$`)},
	{Name: "7.x-rt", Series: KernelSidRT, Doc: "Debian sid's PREEMPT_RT 7.x", suite: "sid", meta: "linux-image-rt-amd64",
		image: regexp.MustCompile(`^linux-image-7\.[0-9]+\.[^ ]*-rt-amd64$`)},
	{Name: "backports", Series: KernelBackports, Doc: "Debian 12's backports (6.12)"},
	{Name: "source", Series: KernelSource, Doc: "7.x built from Debian's source with iommufd (make lab-kernel-src)"},
}

// kernelAliases are older names still accepted.
var kernelAliases = map[string]string{"stable": "6.1"}

// KernelNames lists the catalogue's names.
func KernelNames() []string {
	var out []string
	for _, k := range LabKernels {
		out = append(out, k.Name)
	}
	return out
}

// KernelByName looks a kernel up by name; an unknown name is an error that
// lists the names.
func KernelByName(name string) (LabKernel, error) {
	if a, ok := kernelAliases[name]; ok {
		name = a
	}
	for _, k := range LabKernels {
		if k.Name == name {
			return k, nil
		}
	}
	return LabKernel{}, fmt.Errorf("unknown lab kernel %q: want one of %s", name, strings.Join(KernelNames(), ", "))
}

func catalogueEntry(s KernelSeries) (LabKernel, bool) {
	for _, k := range LabKernels {
		if k.Series == s {
			return k, true
		}
	}
	return LabKernel{}, false
}

// suiteApt is a private apt setup for one suite, under the cache.
type suiteApt struct{ dir, suite string }

func (a suiteApt) args() []string { return sourceApt{dir: a.dir}.args() }

// setup writes the private list and fetches its package lists (once a day).
func (a suiteApt) setup() error {
	codename, err := releaseCodename("/etc/os-release")
	if err != nil {
		return err
	}
	entries, err := systemAptEntries()
	if err != nil {
		return err
	}
	entry, err := sourceAptEntry(codename, a.suite, entries)
	if err != nil {
		return err
	}
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			return err
		}
	}
	list := filepath.Join(a.dir, "sources.list")
	old, _ := os.ReadFile(list)
	fi, serr := os.Stat(filepath.Join(a.dir, "lists", ".updated"))
	if string(old) == entry && serr == nil && time.Since(fi.ModTime()) < 24*time.Hour {
		return nil
	}
	if err := os.WriteFile(list, []byte(entry), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("apt-get", append(a.args(), "update")...).CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update (%s, private list %s): %w: %s", a.suite, list, err, tail(string(out), 500))
	}
	return os.WriteFile(filepath.Join(a.dir, "lists", ".updated"), nil, 0o644)
}

func (a suiteApt) query(args ...string) (string, error) {
	out, err := exec.Command("apt-cache", append(a.args(), args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("apt-cache %s (%s): %w: %s", strings.Join(args, " "), a.suite, err, tail(string(out), 300))
	}
	return string(out), nil
}

var dependsLineRE = regexp.MustCompile(`(?m)^\s*Depends:\s*(.*)$`)
var depNameRE = regexp.MustCompile(`^\s*([a-z0-9][a-z0-9+.-]*)`)

// dependsNames returns the package names of every Depends line of apt-cache
// depends or apt-cache show output (alternatives included, versions dropped).
func dependsNames(out string) []string {
	var names []string
	for _, m := range dependsLineRE.FindAllStringSubmatch(out, -1) {
		for _, alt := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == '|' }) {
			if n := depNameRE.FindStringSubmatch(alt); n != nil {
				names = append(names, n[1])
			}
		}
	}
	return names
}

// imageFromMeta picks the kernel image package the metapackage depends on
// (apt-cache depends META), checked against the catalogue entry's pattern.
func (k LabKernel) imageFromMeta(out string) (string, error) {
	var seen []string
	for _, n := range dependsNames(out) {
		if strings.HasPrefix(n, "linux-image-") {
			if k.image.MatchString(n) {
				return n, nil
			}
			seen = append(seen, n)
		}
	}
	return "", fmt.Errorf("%s (%s) depends on no kernel matching %s (found %v): the suite moved on; update the lab's kernel catalogue (qemu/kernels.go)",
		k.meta, k.suite, k.image, seen)
}

// packagesOf says which packages carry the kernel of image, from apt-cache
// show IMAGE: from 7.x Debian's linux-image-VER is empty and depends on
// linux-binary-VER, linux-modules-VER and linux-base-VER; before, the
// image is linux-image-VER-unsigned, one package.
func packagesOf(image, show string) []string {
	ver := strings.TrimPrefix(image, "linux-image-")
	var split []string
	for _, n := range dependsNames(show) {
		for _, p := range []string{"linux-binary-", "linux-modules-", "linux-base-"} {
			if n == p+ver {
				split = append(split, n)
			}
		}
	}
	if len(split) > 0 {
		return split
	}
	return []string{image + "-unsigned"}
}

// stageCatalogueKernel stages a kernel of a later suite.
func stageCatalogueKernel(k LabKernel) (*Kernel, error) {
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cache, "kernel", k.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// Parallel test binaries stage the same kernel: one downloads, the others wait.
	unlock, err := flockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	apt := suiteApt{dir: filepath.Join(cache, "kernel", "apt-"+k.suite), suite: k.suite}
	image, pkgs, err := resolveCatalogueKernel(k, apt)
	if err != nil {
		// Offline with a staged kernel is fine: use what the cache has.
		if kk, cerr := newestCachedKernel(dir); cerr == nil {
			return kk, nil
		}
		return nil, fmt.Errorf("stage lab kernel %s: %w", k.Name, err)
	}
	root := filepath.Join(dir, image)
	if _, err := os.Stat(filepath.Join(root, ".staged")); err != nil {
		if err := downloadKernelPackages(apt, root, pkgs); err != nil {
			return nil, fmt.Errorf("stage lab kernel %s: %w", k.Name, err)
		}
	}
	return openKernel(root, strings.Join(pkgs, " "))
}

func resolveCatalogueKernel(k LabKernel, apt suiteApt) (string, []string, error) {
	if err := apt.setup(); err != nil {
		return "", nil, err
	}
	out, err := apt.query("depends", k.meta)
	if err != nil {
		return "", nil, err
	}
	image, err := k.imageFromMeta(out)
	if err != nil {
		return "", nil, err
	}
	show, err := apt.query("show", image)
	if err != nil {
		return "", nil, err
	}
	return image, packagesOf(image, show), nil
}
