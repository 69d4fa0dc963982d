// Command hostspeed compares the host-speed benchmark of the core packet path
// (driver.BenchmarkHostSpeed over drivertest.Loop, no QEMU) between two git
// revisions of this repository, on this machine, side by side.
//
// It checks each revision out into a temporary git worktree, copies in the
// benchmark's files from the current tree where that revision lacks them,
// builds one test binary per revision, then runs the two binaries
// interleaved (old new, new old, old new, ...: drift in the machine's load
// falls on both) and prints, per benchmark, the median and the spread
// (min-max) of Mpps/core and Mpps for each revision and the ratio of the
// medians new/old. The raw outputs are kept for benchstat.
//
//	go -C bench run ./hostspeed -old a2e72df -new HEAD -count 6
//
// Usage errors exit 2; a failed build or run exits 1.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/uiodrv/uiodrv/bench"
)

// files are what the benchmark needs beyond the library: copied into a
// revision that lacks them.
var files = []string{"driver/hostspeed_test.go", "driver/drivertest/loop.go"}

type rev struct {
	label, name, commit string
	dir, bin            string
	copied              []string
	out                 bytes.Buffer
}

func main() {
	oldRev := flag.String("old", "a2e72df", "the revision before the change (git rev)")
	newRev := flag.String("new", "HEAD", "the revision after the change (git rev); the same as -old measures the noise")
	count := flag.Int("count", 6, "runs of each revision, interleaved")
	benchtime := flag.String("benchtime", "1s", "go test -benchtime of each sub-benchmark")
	benchRE := flag.String("bench", "BenchmarkHostSpeed", "go test -bench pattern")
	from := flag.String("from", "", "the revision whose benchmark files a revision lacking them gets (git rev); empty: the current tree's")
	outDir := flag.String("out", "", "directory for the raw outputs (old.txt, new.txt) for benchstat; empty: a temporary one, printed")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: hostspeed [-old REV] [-new REV] [-from REV] [-count N] [-benchtime D] [-bench RE] [-out DIR]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 || *count < 1 || *count > 100 {
		fmt.Fprintf(os.Stderr, "hostspeed: -count %d (want 1..100), arguments %q (want none)\n", *count, flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*oldRev, *newRev, *from, *count, *benchtime, *benchRE, *outDir); err != nil {
		fmt.Fprintf(os.Stderr, "hostspeed: %v\n", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(oldRev, newRev, from string, count int, benchtime, benchRE, outDir string) error {
	top, err := git("", "rev-parse", "--show-toplevel")
	if err != nil {
		return usageError{fmt.Errorf("not in a git tree: %w", err)}
	}
	revs := []*rev{{label: "old", name: oldRev}, {label: "new", name: newRev}}
	for _, r := range revs {
		if r.commit, err = git(top, "rev-parse", "--short", r.name+"^{commit}"); err != nil {
			return usageError{fmt.Errorf("revision %q: %w", r.name, err)}
		}
	}
	if from != "" {
		if from, err = git(top, "rev-parse", "--short", from+"^{commit}"); err != nil {
			return usageError{fmt.Errorf("-from: %w", err)}
		}
	}
	tmp, err := os.MkdirTemp("", "hostspeed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if outDir == "" {
		outDir = tmp + "-raw"
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, r := range revs {
		if err := build(top, from, tmp, r); err != nil {
			return err
		}
	}
	started := time.Now()
	loads := []string{"start " + loadavg()}
	for i := 0; i < count; i++ {
		order := revs
		if i%2 == 1 {
			order = []*rev{revs[1], revs[0]}
		}
		for _, r := range order {
			fmt.Fprintf(os.Stderr, "hostspeed: run %d/%d of %s (%s), load %s\n", i+1, count, r.label, r.commit, loadavg())
			cmd := exec.Command(r.bin, "-test.run", "^$", "-test.bench", benchRE, "-test.benchtime", benchtime, "-test.count", "1")
			cmd.Stdout, cmd.Stderr = &r.out, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("run %s benchmark (%s): %w", r.label, r.commit, err)
			}
		}
	}
	loads = append(loads, "end "+loadavg())
	for _, r := range revs {
		if err := os.WriteFile(filepath.Join(outDir, r.label+".txt"), r.out.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return report(os.Stdout, revs, reportInfo{count: count, benchtime: benchtime, bench: benchRE, started: started,
		took: time.Since(started), loads: loads, outDir: outDir})
}

// build checks r out into a worktree under tmp, copies in the benchmark's
// files where r lacks them (from revision from, or the tree at top), and
// builds the driver package's test binary.
func build(top, from, tmp string, r *rev) error {
	r.dir = filepath.Join(tmp, r.label)
	if _, err := git(top, "worktree", "add", "--detach", "--quiet", r.dir, r.commit); err != nil {
		return fmt.Errorf("check out %s (%s): %w", r.label, r.commit, err)
	}
	defer func() { _, _ = git(top, "worktree", "remove", "--force", r.dir) }()
	for _, f := range files {
		dst := filepath.Join(r.dir, f)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		var b []byte
		var err error
		if from == "" {
			b, err = os.ReadFile(filepath.Join(top, f))
		} else {
			var s string
			s, err = git(top, "show", from+":"+f)
			b = []byte(s + "\n")
		}
		if err != nil {
			return fmt.Errorf("%s lacks %s, and so does the source of the copy: %w", r.commit, f, err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
		r.copied = append(r.copied, f)
		if from != "" {
			r.copied[len(r.copied)-1] += " (from " + from + ")"
		}
	}
	r.bin = filepath.Join(tmp, r.label+".test")
	cmd := exec.Command("go", "test", "-c", "-o", r.bin, "./driver/")
	cmd.Dir = r.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the %s benchmark (%s, copied in: %v): %w\n%s", r.label, r.commit, r.copied, err, out)
	}
	return nil
}

type reportInfo struct {
	count            int
	benchtime, bench string
	started          time.Time
	took             time.Duration
	loads            []string
	outDir           string
}

// report prints the comparison as Markdown.
func report(w io.Writer, revs []*rev, ri reportInfo) error {
	parsed := make([]map[string]*bench.GoBench, len(revs))
	var names []string
	for i, r := range revs {
		gbs, err := bench.ParseGoBench(bytes.NewReader(r.out.Bytes()))
		if err != nil {
			return fmt.Errorf("parse %s output: %w", r.label, err)
		}
		parsed[i] = map[string]*bench.GoBench{}
		for _, g := range gbs {
			parsed[i][g.Name] = g
			if i == 0 {
				names = append(names, g.Name)
			}
		}
	}
	fmt.Fprintf(w, "Started %s, took %s. Machine: %s.\n\n", ri.started.UTC().Format("2006-01-02 15:04 MST"), ri.took.Round(time.Second), bench.DescribeMachine())
	for _, r := range revs {
		fmt.Fprintf(w, "- %s: %s (%s)", r.label, r.commit, r.name)
		if len(r.copied) > 0 {
			fmt.Fprintf(w, ", benchmark files copied in: %s", strings.Join(r.copied, ", "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "- %d runs each, interleaved, -bench %s -benchtime %s; load average (1/5/15 min): %s\n", ri.count, ri.bench, ri.benchtime, strings.Join(ri.loads, "; "))
	fmt.Fprintf(w, "- raw outputs (benchstat %s/old.txt %s/new.txt): %s\n\n", ri.outDir, ri.outDir, ri.outDir)
	fmt.Fprintln(w, "Median [min–max] over the runs. Mpps/core: frames per CPU second of the process; Mpps: per wall second.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | old Mpps/core | new Mpps/core | new/old | old Mpps | new Mpps | new/old | irq/Mframe old, new | allocs/op old, new |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, n := range names {
		o, nw := parsed[0][n], parsed[1][n]
		if nw == nil {
			fmt.Fprintf(w, "| %s | %s | (missing) | | %s | | | | |\n", short(n), cell(o, "Mpps/core"), cell(o, "Mpps"))
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s, %s | %s, %s |\n", short(n),
			cell(o, "Mpps/core"), cell(nw, "Mpps/core"), ratio(o, nw, "Mpps/core"),
			cell(o, "Mpps"), cell(nw, "Mpps"), ratio(o, nw, "Mpps"),
			med(o, "irq/Mframe"), med(nw, "irq/Mframe"), med(o, "allocs/op"), med(nw, "allocs/op"))
	}
	return nil
}

func short(name string) string { return strings.TrimPrefix(name, "BenchmarkHostSpeed/") }

func med(g *bench.GoBench, unit string) string {
	if v, ok := g.Median(unit); ok {
		return fmt.Sprintf("%.3g", v)
	}
	return "-"
}

func cell(g *bench.GoBench, unit string) string {
	v, ok := g.Median(unit)
	if !ok {
		return "-"
	}
	lo, hi := g.Spread(unit)
	return fmt.Sprintf("%.2f [%.2f–%.2f]", v, lo, hi)
}

func ratio(o, n *bench.GoBench, unit string) string {
	a, ok1 := o.Median(unit)
	b, ok2 := n.Median(unit)
	if !ok1 || !ok2 || a == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", b/a)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return f[0] + "/" + f[1] + "/" + f[2]
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
