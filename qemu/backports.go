package qemu

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Debian's backports suite is not enabled on a fresh Debian 12. The lab
// enables it with one apt sources entry of its own, on the same URIs,
// components and keyring as the system's entry for the release itself, so
// that it follows whatever mirror the machine uses. Packages from it are
// only ever installed on request (-t SUITE): backports are NotAutomatic,
// so nothing else on the system changes.

// aptSourcesDir is where the lab's entry goes; a variable for tests.
var aptSourcesDir = "/etc/apt/sources.list.d"

// aptSourcesList is the classic one-line sources file; a variable for tests.
var aptSourcesList = "/etc/apt/sources.list"

// aptUpdateLocked runs apt-get update (aptMu held); a variable for tests.
var aptUpdateLocked = func() error { return aptGetLocked("update") }

// aptListsDir holds apt's downloaded package lists; a variable for tests.
var aptListsDir = "/var/lib/apt/lists"

// BackportsSourcesFile is the name of the entry the lab writes.
const BackportsSourcesFile = "uiodrv-backports.sources"

// aptEntry is one deb source: the fields the lab copies.
type aptEntry struct {
	file       string
	uris       []string
	suites     []string
	components []string
	signedBy   string
}

// releaseCodename reads VERSION_CODENAME from os-release (e.g. "bookworm").
func releaseCodename(osRelease string) (string, error) {
	b, err := os.ReadFile(osRelease)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", osRelease, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "VERSION_CODENAME="); ok {
			if v = strings.Trim(v, `"'`); v != "" {
				return v, nil
			}
		}
	}
	return "", fmt.Errorf("%s has no VERSION_CODENAME (not Debian?)", osRelease)
}

// parseDeb822Sources reads the "deb" stanzas of a .sources file. Stanzas
// with Enabled: no are skipped; fields may continue on indented lines.
func parseDeb822Sources(file, text string) []aptEntry {
	var out []aptEntry
	fields := map[string]string{}
	last := ""
	flush := func() {
		if len(fields) > 0 && hasWord(fields["types"], "deb") && !strings.EqualFold(fields["enabled"], "no") {
			out = append(out, aptEntry{file: file, uris: strings.Fields(fields["uris"]),
				suites: strings.Fields(fields["suites"]), components: strings.Fields(fields["components"]),
				signedBy: strings.TrimSpace(fields["signed-by"])})
		}
		fields, last = map[string]string{}, ""
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.TrimSpace(l) == "":
			flush()
		case strings.HasPrefix(l, "#"):
		case (l[0] == ' ' || l[0] == '\t') && last != "":
			fields[last] += " " + strings.TrimSpace(l)
		default:
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// parseOneLineSources reads "deb [opts] URI SUITE COMPONENT..." lines.
func parseOneLineSources(file, text string) []aptEntry {
	var out []aptEntry
	for _, l := range strings.Split(text, "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		e := aptEntry{file: file}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			opts := []string{}
			for len(f) > 0 {
				opts = append(opts, strings.Trim(f[0], "[]"))
				end := strings.HasSuffix(f[0], "]")
				f = f[1:]
				if end {
					break
				}
			}
			for _, o := range opts {
				if v, ok := strings.CutPrefix(o, "signed-by="); ok {
					e.signedBy = v
				}
			}
		}
		if len(f) < 2 {
			continue
		}
		e.uris, e.suites, e.components = []string{f[0]}, []string{f[1]}, f[2:]
		out = append(out, e)
	}
	return out
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// systemAptEntries reads every deb entry of the system, except the lab's own.
func systemAptEntries() ([]aptEntry, error) {
	var out []aptEntry
	if b, err := os.ReadFile(aptSourcesList); err == nil {
		out = append(out, parseOneLineSources(aptSourcesList, string(b))...)
	}
	names, err := filepath.Glob(filepath.Join(aptSourcesDir, "*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, n := range names {
		if filepath.Base(n) == BackportsSourcesFile {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(n, ".sources"):
			out = append(out, parseDeb822Sources(n, string(b))...)
		case strings.HasSuffix(n, ".list"):
			out = append(out, parseOneLineSources(n, string(b))...)
		}
	}
	return out, nil
}

// backportsEntry derives the lab's backports entry from the system's
// entries for codename. It returns "" when the system already enables
// the backports suite (nothing to write).
func backportsEntry(codename string, entries []aptEntry) (string, error) {
	suite := codename + "-backports"
	var uris, comps []string
	signedBy, from := "", ""
	add := func(list []string, v string) []string {
		for _, x := range list {
			if x == v {
				return list
			}
		}
		return append(list, v)
	}
	for _, e := range entries {
		for _, s := range e.suites {
			if s == suite {
				return "", nil
			}
		}
		if !hasWord(strings.Join(e.suites, " "), codename) {
			continue
		}
		for _, u := range e.uris {
			uris = add(uris, u)
		}
		for _, c := range e.components {
			comps = add(comps, c)
		}
		if signedBy == "" {
			signedBy = e.signedBy
		}
		if from == "" {
			from = e.file
		}
	}
	if len(uris) == 0 {
		return "", fmt.Errorf("no apt source for Debian %s found in %s or %s: cannot derive the %s entry", codename, aptSourcesList, aptSourcesDir, suite)
	}
	if len(comps) == 0 {
		comps = []string{"main"}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by uiodrv's lab setup (qemu/labsetup): Debian's %s suite, for QEMU >= 8\n", suite)
	fmt.Fprintf(&b, "# (-device igb) and the backports guest kernel. Same URIs as the system's %s entry\n", codename)
	fmt.Fprintf(&b, "# in %s. Remove this file to disable it.\n", from)
	fmt.Fprintf(&b, "Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\n", strings.Join(uris, " "), suite, strings.Join(comps, " "))
	if signedBy != "" {
		fmt.Fprintf(&b, "Signed-By: %s\n", signedBy)
	}
	return b.String(), nil
}

// backportsListsPresent reports whether apt has package lists for suite.
func backportsListsPresent(suite string) bool {
	for _, pat := range []string{"*_dists_" + suite + "_InRelease", "*_dists_" + suite + "_Release"} {
		if m, _ := filepath.Glob(filepath.Join(aptListsDir, pat)); len(m) > 0 {
			return true
		}
	}
	return false
}

// EnableBackports makes sure apt knows the release's backports suite: it
// writes the lab's sources entry when the system has none (or when the
// system's entry it was derived from changed) and runs apt-get update only
// when it wrote the entry or the suite's lists are missing. It returns the
// suite's name, e.g. "bookworm-backports". A second call changes nothing
// and downloads nothing.
func EnableBackports() (string, error) {
	aptMu.Lock()
	defer aptMu.Unlock()
	codename, err := releaseCodename("/etc/os-release")
	if err != nil {
		return "", fmt.Errorf("enable backports: %w", err)
	}
	suite := codename + "-backports"
	entries, err := systemAptEntries()
	if err != nil {
		return "", fmt.Errorf("enable backports: %w", err)
	}
	want, err := backportsEntry(codename, entries)
	if err != nil {
		return "", fmt.Errorf("enable backports: %w", err)
	}
	path := filepath.Join(aptSourcesDir, BackportsSourcesFile)
	wrote := false
	if want != "" {
		if have, err := os.ReadFile(path); err != nil || string(have) != want {
			if err := writeRootFile(path, want); err != nil {
				return "", fmt.Errorf("enable backports: %w", err)
			}
			wrote = true
		}
	}
	if wrote || !backportsListsPresent(suite) {
		if err := aptUpdateLocked(); err != nil {
			return "", fmt.Errorf("enable backports: %w", err)
		}
		aptUpdated = true
		if !backportsListsPresent(suite) {
			return "", fmt.Errorf("enable backports: apt-get update fetched no lists for %s (see apt-cache policy)", suite)
		}
	}
	return suite, nil
}

// writeRootFile writes a world-readable file, through sudo when not root.
func writeRootFile(path, content string) error {
	if os.Geteuid() == 0 {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	}
	tmp, err := os.CreateTemp("", "uiodrv-apt-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	if out, err := runCmd("sudo", "-n", "install", "-m", "0644", tmp.Name(), path); err != nil {
		return fmt.Errorf("sudo install %s: %w: %s", path, err, out)
	}
	return nil
}

var errOldQEMU = errors.New("qemu: qemu-system-x86_64 is older than the lab needs")
