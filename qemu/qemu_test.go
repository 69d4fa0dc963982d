package qemu

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{NICs: []NIC{{}, {Model: E1000E, Addr: "08.0"}}}
	d := c.withDefaults()
	if d.MemoryMiB != 1024 || d.CPUs != 2 || d.Timeout <= 0 {
		t.Fatalf("defaults: %+v", d)
	}
	if d.NICs[0].Model != E1000 || d.NICs[0].Addr != "03.0" || d.NICs[0].MAC != "52:54:00:12:34:56" {
		t.Fatalf("NIC 0 defaults: %+v", d.NICs[0])
	}
	if d.NICs[1].Addr != "08.0" || d.NICs[1].MAC != "52:54:00:12:34:57" {
		t.Fatalf("NIC 1 defaults: %+v", d.NICs[1])
	}
	if got := c.BDF(0); got != "0000:00:03.0" {
		t.Fatalf("BDF(0) = %s", got)
	}
	if c.NICs[0].Model != "" {
		t.Fatal("withDefaults changed the caller's config")
	}
}

func TestInitramfsContents(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ir := initramfs{
		init:    write("init", "INIT", 0o755),
		modules: []ModuleFile{{Name: "vfio", Host: write("vfio.ko", "KO", 0o644), Guest: "/lib/modules/6.1/kernel/vfio.ko"}},
		files:   []File{{Host: write("tool", "TOOL", 0o750), Guest: "/bin/tool"}},
		config:  proto.GuestConfig{Hugepages: 7, Commands: []proto.Command{{Args: []string{"/bin/tool", "-x"}}}},
	}
	out := filepath.Join(dir, "initrd.cpio")
	if err := ir.write(out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(f))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]cpio.Record{}
	for _, r := range recs {
		got[r.Name] = r
	}
	content := func(name string) string {
		r, ok := got[name]
		if !ok {
			t.Fatalf("%s missing from the initramfs (have %d records)", name, len(recs))
		}
		b := make([]byte, r.FileSize)
		if _, err := r.ReadAt(b, 0); err != nil && r.FileSize > 0 {
			t.Fatal(err)
		}
		return string(b)
	}
	if content("init") != "INIT" || got["init"].Mode&0o777 != 0o755 {
		t.Errorf("init: %q mode %o", content("init"), got["init"].Mode)
	}
	if content("lib/modules/6.1/kernel/vfio.ko") != "KO" {
		t.Error("module content")
	}
	if content("bin/tool") != "TOOL" || got["bin/tool"].Mode&0o777 != 0o750 {
		t.Errorf("bin/tool mode %o", got["bin/tool"].Mode)
	}
	if got["dev/console"].Mode&cpio.S_IFMT != cpio.S_IFCHR {
		t.Error("dev/console is not a character device")
	}
	var cfg proto.GuestConfig
	if err := json.Unmarshal([]byte(content(strings.TrimPrefix(proto.ConfigPath, "/"))), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Hugepages != 7 || cfg.Commands[0].Args[1] != "-x" {
		t.Fatalf("config round trip: %+v", cfg)
	}
}

func TestInitramfsRejectsRelativeGuestPath(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, nil, 0o644)
	ir := initramfs{init: p, files: []File{{Host: p, Guest: "bin/f"}}}
	if err := ir.write(filepath.Join(dir, "x.cpio")); err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Fatalf("err = %v", err)
	}
}

func TestModName(t *testing.T) {
	for in, want := range map[string]string{"vfio-pci": "vfio_pci", "vfio_pci_core": "vfio_pci_core", "e1000": "e1000"} {
		if got := modName(in); got != want {
			t.Errorf("modName(%q) = %q", in, got)
		}
	}
}

// TestRootPortBDF: a NIC behind a root port is the only device on the
// port's secondary bus, numbered by slot order (the guest's enumeration,
// checked in the soak's lab boot); the others stay on bus 0.
func TestRootPortBDF(t *testing.T) {
	c := Config{NICs: []NIC{{RootPort: true, Addr: "06.0"}, {}, {RootPort: true, Addr: "05.0"}}}
	for i, want := range []string{"0000:02:00.0", "0000:00:04.0", "0000:01:00.0"} {
		if got := c.BDF(i); got != want {
			t.Errorf("BDF(%d) = %s, want %s", i, got, want)
		}
	}
}
