package bench

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
)

// GoBench is one benchmark of `go test -bench` output over all its -count runs.
type GoBench struct {
	Pkg   string
	Name  string               // without the -GOMAXPROCS suffix
	Runs  []map[string]float64 // unit -> value, one map per run
	Units []string             // units in first-seen order
}

// Median returns the median of unit over the runs, and whether any run had it.
func (g *GoBench) Median(unit string) (float64, bool) {
	var v []float64
	for _, r := range g.Runs {
		if x, ok := r[unit]; ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// Spread returns the min and max of unit over the runs.
func (g *GoBench) Spread(unit string) (lo, hi float64) {
	first := true
	for _, r := range g.Runs {
		if x, ok := r[unit]; ok {
			if first || x < lo {
				lo = x
			}
			if first || x > hi {
				hi = x
			}
			first = false
		}
	}
	return lo, hi
}

// ParseGoBench reads `go test -bench` output (several packages, -count n),
// keeping benchmarks in first-seen order.
func ParseGoBench(r io.Reader) ([]*GoBench, error) {
	var out []*GoBench
	idx := map[string]*GoBench{}
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // "BenchmarkX" alone (a sub-benchmark parent) or garbage
		}
		iters, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		key := pkg + " " + name
		g := idx[key]
		if g == nil {
			g = &GoBench{Pkg: pkg, Name: name}
			idx[key] = g
			out = append(out, g)
		}
		run := map[string]float64{"iters": iters}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			run[unit] = v
			if !slices.Contains(g.Units, unit) {
				g.Units = append(g.Units, unit)
			}
		}
		g.Runs = append(g.Runs, run)
	}
	return out, sc.Err()
}
