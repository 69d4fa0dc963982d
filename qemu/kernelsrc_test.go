package qemu

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The configuration kept in the repository parses, names what the lab
// needs, and its hash keys the cache.
func TestSourceOptions(t *testing.T) {
	opts, err := sourceOptions(kernelSrcConfig)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, o := range opts {
		have[o] = true
	}
	for _, need := range []string{"CONFIG_IOMMUFD", "CONFIG_VFIO_DEVICE_CDEV", "CONFIG_VFIO_GROUP", "CONFIG_VFIO_CONTAINER",
		"CONFIG_VFIO_PCI", "CONFIG_INTEL_IOMMU", "CONFIG_IRQ_REMAP", "CONFIG_E1000", "CONFIG_E1000E", "CONFIG_IGB",
		"CONFIG_UIO_PCI_GENERIC", "CONFIG_DEVTMPFS", "CONFIG_HUGETLBFS", "CONFIG_SERIAL_8250_CONSOLE", "CONFIG_BLK_DEV_INITRD"} {
		if !have[need] {
			t.Errorf("kernelsrc.config lacks %s", need)
		}
	}
	for _, bad := range []string{"CONFIG_X=m", "CONFIG_X", "X=y", "CONFIG_A B=y"} {
		if _, err := sourceOptions(bad); err == nil || !strings.Contains(err.Error(), "want CONFIG_NAME=y") {
			t.Errorf("sourceOptions(%q) = %v, want an error", bad, err)
		}
	}
	if h := SourceConfigHash(); len(h) != 12 || h != SourceConfigHash() {
		t.Errorf("SourceConfigHash = %q, want 12 stable hex digits", h)
	}
	old := kernelSrcConfig
	kernelSrcConfig += "CONFIG_EXTRA=y\n"
	changed := SourceConfigHash()
	kernelSrcConfig = old
	if changed == SourceConfigHash() {
		t.Error("the hash ignores the configuration")
	}
}

func TestMissingOptions(t *testing.T) {
	config := "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\nCONFIG_D=y\n"
	got := missingOptions(config, []string{"CONFIG_A", "CONFIG_B", "CONFIG_C", "CONFIG_D"})
	if want := []string{"CONFIG_B", "CONFIG_C"}; !reflect.DeepEqual(got, want) {
		t.Errorf("missingOptions = %v, want %v", got, want)
	}
}

func TestSourceAptEntry(t *testing.T) {
	entries := parseDeb822Sources("debian.sources", "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
	got, err := sourceAptEntry("bookworm", "sid", entries)
	if err != nil {
		t.Fatal(err)
	}
	if want := "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main\n"; got != want {
		t.Errorf("entry = %q, want %q", got, want)
	}
	if _, err := sourceAptEntry("trixie", "sid", entries); err == nil {
		t.Error("an entry derived from another release's source")
	}
}

// A cached build opens as a built-in kernel: no modules, and a module
// closure that is empty whatever is asked for.
func TestOpenSourceKernel(t *testing.T) {
	root := filepath.Join(t.TempDir(), "linux-source-7.2_7.2.13-1-abcdef012345")
	if err := os.MkdirAll(filepath.Join(root, "boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vmlinuz-7.2.13", "config-7.2.13"} {
		if err := os.WriteFile(filepath.Join(root, "boot", f), []byte("CONFIG_IOMMUFD=y\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, ".staged"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := newestSourceKernel(filepath.Dir(root), "abcdef012345")
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != "7.2.13" || !k.BuiltIn || k.HasModule("vfio_pci") {
		t.Errorf("kernel %+v: want 7.2.13, built in, no modules", k)
	}
	mods, err := k.ModuleClosure("vfio_pci", "vfio_iommu_type1")
	if err != nil || len(mods) != 0 {
		t.Errorf("ModuleClosure = %v, %v; want nothing", mods, err)
	}
	if v, err := k.Config("CONFIG_IOMMUFD"); err != nil || v != "y" {
		t.Errorf("Config(CONFIG_IOMMUFD) = %q, %v", v, err)
	}
	if _, err := newestSourceKernel(filepath.Dir(root), "000000000000"); err == nil {
		t.Error("a build of another configuration was taken")
	}
	if KernelSource.String() != "source" {
		t.Errorf("KernelSource = %q", KernelSource)
	}
}
