package qemu

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

func TestKernelByName(t *testing.T) {
	for name, want := range map[string]KernelSeries{
		"6.1": KernelStable, "stable": KernelStable, "6.12": KernelTrixie, "6.12-rt": KernelTrixieRT,
		"7.x": KernelSid, "7.x-rt": KernelSidRT, "backports": KernelBackports, "source": KernelSource,
	} {
		k, err := KernelByName(name)
		if err != nil || k.Series != want {
			t.Errorf("KernelByName(%q) = %v, %v; want %v", name, k.Series, err, want)
		}
	}
	for _, bad := range []string{"", "7", "7.2", "6.12rt", "RT", "6.1 "} {
		_, err := KernelByName(bad)
		if err == nil || !strings.Contains(err.Error(), "6.1, 6.12, 6.12-rt, 7.x, 7.x-rt, backports, source") {
			t.Errorf("KernelByName(%q): %v; want an error listing the names", bad, err)
		}
	}
	for _, k := range LabKernels {
		if k.Series.String() != k.Name && !(k.Series == KernelStable && k.Series.String() == "stable") {
			t.Errorf("%v.String() = %q, want %q", k.Series, k.Series.String(), k.Name)
		}
	}
}

// Real apt-cache output, trimmed (2026-12-07).
const (
	sidMeta = `linux-image-amd64
  Depends: linux-base-amd64
  Depends: linux-image-7.2.13+deb14-amd64
`
	sidRTMeta = `linux-image-rt-amd64
  Depends: linux-base-rt-amd64
  Depends: linux-image-7.2.13+deb14-rt-amd64
`
	sidShow = `Package: linux-image-7.2.13+deb14-amd64
Version: 7.2.13-1
Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.2.13+deb14-amd64 (= 7.2.13-1), linux-binary-7.2.13+deb14-amd64 (= 7.2.13-1), linux-modules-7.2.13+deb14-amd64 (= 7.2.13-1)
Pre-Depends: linux-base (>= 4.17~)
`
	trixieRTMeta = `linux-image-rt-amd64
  Depends: linux-image-6.12.117+deb13-rt-amd64
`
	trixieShow = `Package: linux-image-6.12.117+deb13-rt-amd64
Depends: kmod, linux-base (>= 4.12~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool
`
)

func TestKernelPackageSelection(t *testing.T) {
	get := func(name string) LabKernel {
		k, err := KernelByName(name)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	cases := []struct {
		name, meta, show, image string
		pkgs                    []string
	}{
		{"7.x", sidMeta, sidShow, "linux-image-7.2.13+deb14-amd64",
			[]string{"linux-base-7.2.13+deb14-amd64", "linux-binary-7.2.13+deb14-amd64", "linux-modules-7.2.13+deb14-amd64"}},
		{"7.x-rt", sidRTMeta, strings.ReplaceAll(sidShow, "-amd64", "-rt-amd64"), "linux-image-7.2.13+deb14-rt-amd64",
			[]string{"linux-base-7.2.13+deb14-rt-amd64", "linux-binary-7.2.13+deb14-rt-amd64", "linux-modules-7.2.13+deb14-rt-amd64"}},
		{"6.12-rt", trixieRTMeta, trixieShow, "linux-image-6.12.117+deb13-rt-amd64",
			[]string{"linux-image-6.12.117+deb13-rt-amd64-unsigned"}},
	}
	for _, c := range cases {
		image, err := get(c.name).imageFromMeta(c.meta)
		if err != nil || image != c.image {
			t.Errorf("%s: image %q, %v; want %q", c.name, image, err, c.image)
			continue
		}
		if got := packagesOf(image, c.show); !reflect.DeepEqual(got, c.pkgs) {
			t.Errorf("%s: packages %v, want %v", c.name, got, c.pkgs)
		}
	}
	// The generic flavour never takes the RT image, nor a kernel of another series.
	for name, meta := range map[string]string{"7.x": sidRTMeta, "6.12": sidMeta, "7.x-rt": trixieRTMeta, "6.12-rt": sidRTMeta} {
		if image, err := get(name).imageFromMeta(meta); err == nil {
			t.Errorf("%s took %q from %q", name, image, meta)
		} else if !strings.Contains(err.Error(), "kernels.go") {
			t.Errorf("%s: %v does not say where the catalogue is", name, err)
		}
	}
}

// fakeModule is a minimal ELF64 relocatable object with a .modinfo section
// holding info, as a kernel module has.
func fakeModule(info ...string) []byte {
	modinfo := []byte(strings.Join(info, "\x00") + "\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	var b bytes.Buffer
	le := binary.LittleEndian
	shoff := uint64(64 + len(modinfo) + len(shstr))
	shoff = (shoff + 7) &^ 7
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	binary.Write(&b, le, struct {
		Type, Machine              uint16
		Version                    uint32
		Entry, Phoff, Shoff        uint64
		Flags                      uint32
		Ehsize, Phentsize, Phnum   uint16
		Shentsize, Shnum, Shstrndx uint16
	}{1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 2})
	b.Write(modinfo)
	b.Write(shstr)
	for uint64(b.Len()) < shoff {
		b.WriteByte(0)
	}
	type shdr struct {
		Name, Type             uint32
		Flags, Addr, Off, Size uint64
		Link, Info             uint32
		Align, Entsize         uint64
	}
	binary.Write(&b, le, shdr{})
	binary.Write(&b, le, shdr{Name: 1, Type: 1, Off: 64, Size: uint64(len(modinfo)), Align: 1})
	binary.Write(&b, le, shdr{Name: 10, Type: 3, Off: uint64(64 + len(modinfo)), Size: uint64(len(shstr)), Align: 1})
	return b.Bytes()
}

func writeXZ(t *testing.T, path string, data []byte) {
	t.Helper()
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, path, b.Bytes())
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKernelSplitLayout: a 7.x tree as Debian's split packages unpack it
// (image, config and xz modules under usr/lib/modules/VER) is laid out so
// that the lab boots it: the image and config under boot/, the modules
// under lib/modules, loaded in dependency order and decompressed.
func TestKernelSplitLayout(t *testing.T) {
	root := t.TempDir()
	const ver = "7.2.13+deb14-rt-amd64"
	mods := filepath.Join(root, "usr/lib/modules", ver)
	write(t, filepath.Join(mods, "vmlinuz"), []byte("image"))
	write(t, filepath.Join(mods, "config"), []byte("CONFIG_PREEMPT_RT=y\n# CONFIG_IOMMUFD is not set\n"))
	write(t, filepath.Join(mods, "modules.builtin"), nil)
	nic := fakeModule("name=e1000e", "depends=ptp")
	writeXZ(t, filepath.Join(mods, "kernel/drivers/net/e1000e.ko.xz"), nic)
	writeXZ(t, filepath.Join(mods, "kernel/drivers/ptp/ptp.ko.xz"), fakeModule("name=ptp", "depends="))
	if err := layoutKernelTree(root); err != nil {
		t.Fatal(err)
	}
	k, err := openKernel(root, "test")
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != ver || k.Vmlinuz != filepath.Join(root, "boot", "vmlinuz-"+ver) {
		t.Errorf("version %q image %q", k.Version, k.Vmlinuz)
	}
	if v, err := k.Config("CONFIG_PREEMPT_RT"); v != "y" || err != nil {
		t.Errorf("CONFIG_PREEMPT_RT = %q, %v; want y", v, err)
	}
	got, err := k.ModuleClosure("e1000e")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "ptp" || got[1].Name != "e1000e" ||
		got[1].Guest != "/lib/modules/"+ver+"/kernel/drivers/net/e1000e.ko" {
		t.Fatalf("closure %+v: want ptp then e1000e at a plain .ko under /lib/modules", got)
	}
	img, err := readModule(got[1].Host)
	if err != nil || !bytes.Equal(img, nic) {
		t.Errorf("readModule(%s): %d bytes, %v; want the module decompressed", got[1].Host, len(img), err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/lib/modules", ver)); !os.IsNotExist(err) {
		t.Errorf("usr/lib/modules/%s left behind: %v", ver, err)
	}
}

// TestKernelLayoutKept: a 6.1 tree (boot/ and lib/modules/ already) is
// left as it is; a tree without an image is refused.
func TestKernelLayoutKept(t *testing.T) {
	root := t.TempDir()
	const ver = "6.1.0-57-amd64"
	write(t, filepath.Join(root, "boot", "vmlinuz-"+ver), []byte("image"))
	write(t, filepath.Join(root, "lib/modules", ver, "kernel/e1000.ko"), fakeModule("name=e1000", "depends="))
	if err := layoutKernelTree(root); err != nil {
		t.Fatal(err)
	}
	if k, err := openKernel(root, "test"); err != nil || !k.HasModule("e1000") {
		t.Fatalf("openKernel: %v", err)
	}
	empty := t.TempDir()
	write(t, filepath.Join(empty, "usr/lib/modules", ver, "kernel/e1000.ko.xz"), nil)
	if err := layoutKernelTree(empty); err == nil || !strings.Contains(err.Error(), "expected one kernel image") {
		t.Errorf("a tree without an image: %v", err)
	}
}
