package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const debianSources = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main
`

func TestBackportsEntryDeb822(t *testing.T) {
	e := parseDeb822Sources("/etc/apt/sources.list.d/debian.sources", debianSources)
	if len(e) != 2 {
		t.Fatalf("want 2 deb stanzas (deb-src skipped), got %+v", e)
	}
	got, err := backportsEntry("bookworm", e)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"URIs: http://deb.debian.org/debian\n",
		"Suites: bookworm-backports\n",
		"Components: main\n",
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
		"in /etc/apt/sources.list.d/debian.sources",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("entry lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "security") || strings.Contains(got, "src.example") {
		t.Errorf("entry copied another suite's URIs:\n%s", got)
	}
}

func TestBackportsEntryOneLine(t *testing.T) {
	list := `# mirror
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian/ bookworm main contrib non-free-firmware
deb http://mirror.example/debian-security bookworm-security main
deb-src http://mirror.example/debian bookworm main
`
	got, err := backportsEntry("bookworm", parseOneLineSources("/etc/apt/sources.list", list))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"URIs: http://mirror.example/debian/\n", "Components: main contrib non-free-firmware\n", "Signed-By: /usr/share/keyrings/k.gpg\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("entry lacks %q:\n%s", want, got)
		}
	}
}

func TestBackportsEntryAlreadyEnabled(t *testing.T) {
	e := parseOneLineSources("x.list", "deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-backports main\n")
	got, err := backportsEntry("bookworm", e)
	if err != nil || got != "" {
		t.Fatalf("system already enables backports: want nothing to write, got %q, %v", got, err)
	}
	disabled := strings.Replace(debianSources, "Types: deb\n#", "Enabled: no\nTypes: deb\n#", 1)
	if _, err := backportsEntry("bookworm", parseDeb822Sources("d.sources", disabled)); err == nil {
		t.Fatal("a disabled stanza was used")
	}
	if _, err := backportsEntry("trixie", parseDeb822Sources("d.sources", debianSources)); err == nil {
		t.Fatal("no trixie entry, yet an entry was derived")
	}
}

// TestEnableBackportsIdempotent runs the file logic on a fake /etc/apt: the
// entry is written once, and a second call changes nothing (no write, no
// apt-get update: the lists are present).
func TestEnableBackportsIdempotent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writes through writeRootFile, which needs root or sudo")
	}
	dir := t.TempDir()
	saved := [3]string{aptSourcesDir, aptSourcesList, aptListsDir}
	savedUpdate := aptUpdateLocked
	t.Cleanup(func() {
		aptSourcesDir, aptSourcesList, aptListsDir = saved[0], saved[1], saved[2]
		aptUpdateLocked = savedUpdate
	})
	updates := 0
	aptUpdateLocked = func() error { updates++; return nil }
	aptSourcesDir = filepath.Join(dir, "sources.list.d")
	aptSourcesList = filepath.Join(dir, "sources.list")
	aptListsDir = filepath.Join(dir, "lists")
	for _, d := range []string{aptSourcesDir, aptListsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	codename, err := releaseCodename("/etc/os-release")
	if err != nil {
		t.Skip(err)
	}
	src := strings.ReplaceAll(debianSources, "bookworm", codename)
	if err := os.WriteFile(filepath.Join(aptSourcesDir, "debian.sources"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := EnableBackports(); err == nil {
		t.Fatal("apt-get update fetched no backports lists, yet no error")
	}
	if updates != 1 {
		t.Fatalf("writing the entry ran apt-get update %d times, want 1", updates)
	}
	// What apt-get update would leave behind.
	if err := os.WriteFile(filepath.Join(aptListsDir, "deb.debian.org_debian_dists_"+codename+"-backports_InRelease"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	updates = 0
	suite, err := EnableBackports()
	if err != nil {
		t.Fatal(err)
	}
	if suite != codename+"-backports" {
		t.Fatalf("suite %q", suite)
	}
	path := filepath.Join(aptSourcesDir, BackportsSourcesFile)
	st1, err := os.Stat(path)
	if err != nil {
		t.Fatalf("entry not written: %v", err)
	}
	if _, err := EnableBackports(); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(path)
	if !st2.ModTime().Equal(st1.ModTime()) || st2.Sys() == nil {
		t.Fatal("second call rewrote the entry")
	}
	if ino1, ino2 := inode(st1), inode(st2); ino1 != ino2 {
		t.Fatal("second call replaced the entry")
	}
	if updates != 0 {
		t.Fatalf("calls with the entry and lists in place ran apt-get update %d times", updates)
	}
}

func TestParseQEMUVersion(t *testing.T) {
	for _, c := range []struct {
		out     string
		v       [3]int
		atLeast bool
	}{
		{"QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u13)\nCopyright", [3]int{7, 2, 15}, false},
		{"QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)", [3]int{10, 0, 2}, true},
		{"QEMU emulator version 8.0.0", [3]int{8, 0, 0}, true},
		{"QEMU emulator version 9.1", [3]int{9, 1, 0}, true},
	} {
		ma, mi, pa, err := parseQEMUVersion(c.out)
		if err != nil || [3]int{ma, mi, pa} != c.v {
			t.Errorf("%q: %d.%d.%d %v", c.out, ma, mi, pa, err)
		}
		if versionAtLeast(ma, mi, MinQEMU) != c.atLeast {
			t.Errorf("%q: at least %v = %v", c.out, MinQEMU, !c.atLeast)
		}
	}
	if _, _, _, err := parseQEMUVersion("qemu: command not found"); err == nil {
		t.Error("no version parsed without error")
	}
}

func inode(fi os.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }
