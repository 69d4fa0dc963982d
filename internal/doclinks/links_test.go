package doclinks

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// root is the repository's top, seen from this package's folder.
const root = "../.."

// arriving lists link targets that the README may name before their files
// are in the tree (written together with the code they document). A missing
// one is reported, not failed; once the file exists its entry goes. Keep it
// empty on main.
var arriving = map[string]bool{}

var (
	linkRE = regexp.MustCompile(`\]\(([^()\s]+)(?:\s+"[^"]*")?\)`)
	codeRE = regexp.MustCompile("`[^`]*`")
)

// link is one relative link found in a markdown file.
type link struct {
	from   string // the file it is in, relative to root
	line   int
	target string // as written
}

// links returns the relative links of a markdown file, outside code.
func links(t *testing.T, rel string) []link {
	t.Helper()
	f, err := os.Open(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []link
	fenced := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, m := range linkRE.FindAllStringSubmatch(codeRE.ReplaceAllString(line, ""), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			out = append(out, link{rel, n, target})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// anchor turns a heading's text into its anchor as GitHub does: lower case,
// letters, digits, spaces, hyphens and underscores kept, spaces made hyphens.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors of a markdown file's headings; a repeated
// heading gets -1, -2 ... as on GitHub.
func anchors(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	out := map[string]bool{}
	fenced := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		a := anchor(strings.ReplaceAll(text, "`", ""))
		if k := seen[a]; k > 0 {
			out[fmt.Sprintf("%s-%d", a, k)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out, nil
}

// check returns what is wrong with one link, or "".
func check(l link) string {
	target, frag, _ := strings.Cut(l.target, "#")
	path := filepath.Join(root, filepath.Dir(l.from), target)
	if target == "" {
		path = filepath.Join(root, l.from)
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return err.Error()
	}
	rel = filepath.ToSlash(rel)
	if _, err := os.Stat(path); err != nil {
		if arriving[rel] {
			return ""
		}
		return fmt.Sprintf("%s does not exist", rel)
	}
	if frag == "" {
		return ""
	}
	if !strings.HasSuffix(path, ".md") {
		return fmt.Sprintf("#%s: %s is not markdown", frag, rel)
	}
	as, err := anchors(path)
	if err != nil {
		return err.Error()
	}
	if !as[frag] {
		return fmt.Sprintf("%s has no heading with anchor #%s", rel, frag)
	}
	return ""
}

func docs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		out = append(out, filepath.ToSlash(rel))
	}
	sort.Strings(out[1:])
	return out
}

// TestLinksResolve fails on every relative link in README.md and docs/*.md
// whose file or heading anchor does not exist.
func TestLinksResolve(t *testing.T) {
	n := 0
	for _, f := range docs(t) {
		for _, l := range links(t, f) {
			n++
			if why := check(l); why != "" {
				t.Errorf("%s:%d: link %q: %s", l.from, l.line, l.target, why)
			}
		}
	}
	for target := range arriving {
		if _, err := os.Stat(filepath.Join(root, target)); err != nil {
			t.Logf("%s is not in this tree yet: links to it are not checked", target)
		}
	}
	if n < 20 {
		t.Errorf("only %d relative links found: the parser is missing links", n)
	}
}

// TestAnchor pins the heading-to-anchor rule on headings these docs use.
func TestAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"The soak: runs and its leak check":      "the-soak-runs-and-its-leak-check",
		"Top half: none and thread":              "top-half-none-and-thread",
		"Scheduling class: --bh-sched":           "scheduling-class---bh-sched",
		"Real time with cyclictest: the figures": "real-time-with-cyclictest-the-figures",
		"Targets (met, missed)":                  "targets-met-missed",
	} {
		if got := anchor(heading); got != want {
			t.Errorf("anchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

// maxREADME is the README's length limit: a front door, the rest in docs/.
const maxREADME = 250

// TestREADMEShort fails when README.md grows past maxREADME lines.
func TestREADMEShort(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n > maxREADME {
		t.Errorf("README.md has %d lines, more than %d: move the detail to docs/", n, maxREADME)
	}
}
