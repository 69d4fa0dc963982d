package qemu

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// The source-built guest kernel (KernelSource). No Debian kernel enables
// iommufd or the VFIO device cdev, so the lab builds one from Debian's own
// kernel source package: linux-source-7.x from the development suite (sid),
// read through a private apt sources list that leaves the system's alone,
// configured from tinyconfig plus kernelsrc.config (everything built in, no
// modules) and built as a bzImage. The result is cached under
// $XDG_CACHE_HOME/uiodrv/kernel/source/, keyed by the source package's
// version and a hash of the configuration, so a second call builds nothing.

//go:embed kernelsrc.config
var kernelSrcConfig string

// SourceSuite is the Debian suite the kernel source comes from.
const SourceSuite = "sid"

// SourceMetaPackage depends on the suite's current linux-source-X.Y.
const SourceMetaPackage = "linux-source"

// KernelBuildPackages are the Debian packages the build needs (bookworm's
// own); StageSourceKernel installs the missing ones.
var KernelBuildPackages = []string{"build-essential", "bc", "bison", "flex", "libelf-dev", "libssl-dev", "xz-utils", "cpio"}

// kernelSrcRecipe is the build recipe's own version: bump it when the steps
// below change what they produce, so that cached kernels are rebuilt.
const kernelSrcRecipe = "tinyconfig+fragment+bzImage v1"

// SourceConfigHash is the first 12 hex digits of the SHA-256 of the recipe
// and kernelsrc.config: half of a cached kernel's key.
func SourceConfigHash() string {
	h := sha256.Sum256([]byte(kernelSrcRecipe + "\n" + kernelSrcConfig))
	return hex.EncodeToString(h[:6])
}

// sourceOptions returns the CONFIG_ names kernelsrc.config sets to y.
func sourceOptions(fragment string) ([]string, error) {
	var out []string
	for i, l := range strings.Split(fragment, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, ok := strings.CutSuffix(l, "=y")
		if !ok || !strings.HasPrefix(name, "CONFIG_") || strings.ContainsAny(name, " =") {
			return nil, fmt.Errorf("kernelsrc.config line %d: %q: want CONFIG_NAME=y", i+1, l)
		}
		out = append(out, name)
	}
	return out, nil
}

// missingOptions returns the options of want that config (a .config) does not set to y.
func missingOptions(config string, want []string) []string {
	have := map[string]bool{}
	for _, l := range strings.Split(config, "\n") {
		if name, ok := strings.CutSuffix(strings.TrimSpace(l), "=y"); ok {
			have[name] = true
		}
	}
	var miss []string
	for _, w := range want {
		if !have[w] {
			miss = append(miss, w)
		}
	}
	return miss
}

// sourceApt is the private apt setup for SourceSuite, under the cache.
type sourceApt struct{ dir string }

func (a sourceApt) args() []string {
	return []string{
		"-o", "Dir::Etc::sourcelist=" + filepath.Join(a.dir, "sources.list"),
		"-o", "Dir::Etc::sourceparts=/dev/null",
		"-o", "Dir::State::Lists=" + filepath.Join(a.dir, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(a.dir, "cache"),
		"-o", "Debug::NoLocking=1",
	}
}

// sourceAptEntry is a one-line apt entry for suite on the URIs and keyring
// of the system's entry for its own release.
func sourceAptEntry(codename, suite string, entries []aptEntry) (string, error) {
	for _, e := range entries {
		if !hasWord(strings.Join(e.suites, " "), codename) || len(e.uris) == 0 {
			continue
		}
		opt := ""
		if e.signedBy != "" {
			opt = "[signed-by=" + e.signedBy + "] "
		}
		return fmt.Sprintf("deb %s%s %s main\n", opt, e.uris[0], suite), nil
	}
	return "", fmt.Errorf("no apt source for Debian %s found in %s or %s: cannot derive the %s entry", codename, aptSourcesList, aptSourcesDir, suite)
}

// setup writes the private list and fetches its package lists (once a day),
// as every private suite list does (suiteApt.setup).
func (a sourceApt) setup() error { return suiteApt{dir: a.dir, suite: SourceSuite}.setup() }

var sourceDepRE = regexp.MustCompile(`Depends:\s+(linux-source-[0-9]+\.[0-9]+)\b`)
var versionRE = regexp.MustCompile(`(?m)^Version:\s+(\S+)`)

// resolve names the source package the suite's linux-source depends on and its version.
func (a sourceApt) resolve() (pkg, version string, err error) {
	out, err := exec.Command("apt-cache", append(a.args(), "show", SourceMetaPackage)...).CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("apt-cache show %s (%s): %w: %s", SourceMetaPackage, SourceSuite, err, tail(string(out), 300))
	}
	m := sourceDepRE.FindSubmatch(out)
	if m == nil {
		return "", "", fmt.Errorf("apt-cache show %s (%s): no linux-source-X.Y dependency", SourceMetaPackage, SourceSuite)
	}
	pkg = string(m[1])
	out, err = exec.Command("apt-cache", append(a.args(), "show", pkg)...).CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("apt-cache show %s: %w: %s", pkg, err, tail(string(out), 300))
	}
	v := versionRE.FindSubmatch(out)
	if v == nil {
		return "", "", fmt.Errorf("apt-cache show %s: no Version", pkg)
	}
	return pkg, string(v[1]), nil
}

// StageSourceKernel returns the source-built kernel, building it the first
// time (a few minutes; its log goes to build.log beside the image). Offline,
// it falls back to the newest cached build of the current configuration.
func StageSourceKernel() (*Kernel, error) {
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	top := filepath.Join(cache, "kernel", "source")
	if err := os.MkdirAll(top, 0o755); err != nil {
		return nil, err
	}
	// A build takes minutes: other processes (go test runs packages in
	// parallel) wait for it instead of building the same kernel twice.
	unlock, err := flockFile(filepath.Join(top, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	hash := SourceConfigHash()
	apt := sourceApt{dir: filepath.Join(top, "apt")}
	pkg, version, err := "", "", apt.setup()
	if err == nil {
		pkg, version, err = apt.resolve()
	}
	if err != nil {
		if k, cerr := newestSourceKernel(top, hash); cerr == nil {
			return k, nil
		}
		return nil, fmt.Errorf("stage source kernel: %w", err)
	}
	root := filepath.Join(top, pkg+"_"+version+"-"+hash)
	if _, err := os.Stat(filepath.Join(root, ".staged")); err != nil {
		if err := buildSourceKernel(apt, pkg, root); err != nil {
			return nil, fmt.Errorf("stage source kernel %s %s: %w", pkg, version, err)
		}
	}
	return openSourceKernel(root)
}

func newestSourceKernel(top, hash string) (*Kernel, error) {
	m, _ := filepath.Glob(filepath.Join(top, "*-"+hash, ".staged"))
	if len(m) == 0 {
		return nil, fmt.Errorf("no source-built kernel with configuration %s in %s", hash, top)
	}
	sort.Strings(m)
	return openSourceKernel(filepath.Dir(m[len(m)-1]))
}

// openSourceKernel opens a cached build: boot/vmlinuz-VER and
// boot/config-VER, no modules (Kernel.BuiltIn).
func openSourceKernel(root string) (*Kernel, error) {
	images, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(images) != 1 {
		return nil, fmt.Errorf("source kernel in %s: expected one boot/vmlinuz-*, found %v", root, images)
	}
	return &Kernel{
		Package: filepath.Base(root),
		Root:    root,
		Vmlinuz: images[0],
		Version: strings.TrimPrefix(filepath.Base(images[0]), "vmlinuz-"),
		BuiltIn: true,
		mods:    map[string]string{},
	}, nil
}

// buildSourceKernel downloads, configures and builds pkg into root.
func buildSourceKernel(apt sourceApt, pkg, root string) (err error) {
	want, err := sourceOptions(kernelSrcConfig)
	if err != nil {
		return err
	}
	if err := ensureDebs(KernelBuildPackages); err != nil {
		return fmt.Errorf("install build dependencies: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // the build tree is ~180 MB: only the image is kept
	logf, err := os.Create(filepath.Join(tmp, "build.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	start := time.Now()
	step := func(dir, name string, args ...string) error {
		fmt.Fprintf(logf, "+ %s %s  (%s)\n", name, strings.Join(args, " "), time.Since(start).Round(time.Second))
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		var out strings.Builder
		cmd.Stdout = io.MultiWriter(logf, &out)
		cmd.Stderr = cmd.Stdout
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(out.String(), 1500))
		}
		return nil
	}
	if err := step(tmp, "apt-get", append(apt.args(), "download", pkg)...); err != nil {
		return err
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download %s: expected one .deb, found %v", pkg, debs)
	}
	if err := step(tmp, "dpkg-deb", "-x", debs[0], "deb"); err != nil {
		return err
	}
	os.Remove(debs[0])
	tars, _ := filepath.Glob(filepath.Join(tmp, "deb", "usr", "src", "linux-source-*.tar.xz"))
	if len(tars) != 1 {
		return fmt.Errorf("%s: expected one usr/src/linux-source-*.tar.xz, found %v", pkg, tars)
	}
	if err := step(tmp, "tar", "-xf", tars[0]); err != nil {
		return err
	}
	os.RemoveAll(filepath.Join(tmp, "deb"))
	src := filepath.Join(tmp, strings.TrimSuffix(filepath.Base(tars[0]), ".tar.xz"))
	if err := step(src, "make", "tinyconfig"); err != nil {
		return err
	}
	args := []string{"--file", ".config"}
	for _, o := range want {
		args = append(args, "-e", strings.TrimPrefix(o, "CONFIG_"))
	}
	if err := step(src, "scripts/config", args...); err != nil {
		return err
	}
	if err := step(src, "make", "olddefconfig"); err != nil {
		return err
	}
	config, err := os.ReadFile(filepath.Join(src, ".config"))
	if err != nil {
		return err
	}
	if miss := missingOptions(string(config), want); len(miss) > 0 {
		return fmt.Errorf("make olddefconfig dropped %v (a dependency missing from kernelsrc.config?)", miss)
	}
	jobs := "-j" + strconv.Itoa(runtime.NumCPU())
	if err := step(src, "make", jobs, "bzImage"); err != nil {
		return err
	}
	rel, err := exec.Command("make", "-s", "-C", src, "kernelrelease").Output()
	if err != nil {
		return fmt.Errorf("make kernelrelease: %w", err)
	}
	ver := strings.TrimSpace(string(rel))
	fmt.Fprintf(logf, "built %s in %s\n", ver, time.Since(start).Round(time.Second))

	stage := filepath.Join(tmp, "stage")
	if err := os.MkdirAll(filepath.Join(stage, "boot"), 0o755); err != nil {
		return err
	}
	for from, to := range map[string]string{"arch/x86/boot/bzImage": "vmlinuz-" + ver, ".config": "config-" + ver} {
		b, err := os.ReadFile(filepath.Join(src, from))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(stage, "boot", to), b, 0o644); err != nil {
			return err
		}
	}
	logf.Sync()
	if b, err := os.ReadFile(logf.Name()); err == nil {
		_ = os.WriteFile(filepath.Join(stage, "build.log"), b, 0o644)
	}
	stamp := fmt.Sprintf("%s %s built in %s\n", filepath.Base(debs[0]), SourceConfigHash(), time.Since(start).Round(time.Second))
	if err := os.WriteFile(filepath.Join(stage, ".staged"), []byte(stamp), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(root)
	return os.Rename(stage, root)
}

// ensureDebs installs the Debian packages of pkgs that dpkg does not list as installed.
func ensureDebs(pkgs []string) error {
	var missing []string
	for _, p := range pkgs {
		out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
		if err != nil || !strings.Contains(string(out), "install ok installed") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := aptUpdateOnce(); err != nil {
		return err
	}
	return aptGet(append([]string{"install", "-y", "--no-install-recommends"}, missing...)...)
}

// flockFile takes an exclusive flock on path and returns its release.
func flockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
