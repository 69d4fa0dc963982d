package main

import (
	"bufio"
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The soak's goroutine leak check compares kinds of goroutines, not only
// their number: the driver serves its goroutine profile (pprof, debug=1) on
// its metrics listener, the guest helper folds it into one line per stack,
// and the host compares the start's stacks with the end's.

// goroutineStacks is a goroutine profile folded by stack: each key is the
// stack's functions, innermost first, with their source lines.
type goroutineStacks map[string]int

// parseGoroutineProfile folds a debug=1 goroutine profile ("N @ pc..."
// headers, then "#\tpc\tfunc+off\tfile:line" frames, a blank line between
// groups).
func parseGoroutineProfile(text string) (goroutineStacks, error) {
	st := goroutineStacks{}
	var n int
	var pcs string
	var frames []string
	flush := func() {
		if n > 0 {
			k := strings.Join(frames, " < ")
			if k == "" {
				k = "(no frames) @ " + pcs // runtime.goexit alone, which pprof never prints
			}
			st[k] += n
		}
		n, pcs, frames = 0, "", nil
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "goroutine profile:"):
		case strings.TrimSpace(l) == "":
			flush()
		case strings.HasPrefix(l, "#"):
			f := strings.Fields(l)
			if len(f) == 2 && strings.HasPrefix(f[1], "0x") {
				frames = append(frames, "? "+f[1]) // no symbol
				continue
			}
			if len(f) < 4 {
				continue // "# labels: ..."
			}
			fn := f[2]
			if i := strings.LastIndex(fn, "+0x"); i > 0 {
				fn = fn[:i]
			}
			frames = append(frames, fn+" "+path.Base(f[3]))
		default:
			flush()
			i := strings.Index(l, " @ ")
			if i < 0 {
				return nil, fmt.Errorf("goroutine profile: unexpected line %q", l)
			}
			c, err := strconv.Atoi(l[:i])
			if err != nil {
				return nil, fmt.Errorf("goroutine profile: unexpected line %q", l)
			}
			n, pcs = c, strings.TrimSpace(l[i+3:])
		}
	}
	flush()
	if len(st) == 0 {
		return nil, fmt.Errorf("goroutine profile: no stacks")
	}
	return st, sc.Err()
}

func (st goroutineStacks) total() int {
	n := 0
	for _, c := range st {
		n += c
	}
	return n
}

// lines are the stacks in a stable order, "count stack" each.
func (st goroutineStacks) lines() []string {
	var out []string
	for k, c := range st {
		out = append(out, fmt.Sprintf("%d %s", c, k))
	}
	sort.Strings(out)
	return out
}

// diff lists the stacks whose count differs from base's, as
// "base -> st: stack".
func (st goroutineStacks) diff(base goroutineStacks) []string {
	var out []string
	for k, c := range st {
		if base[k] != c {
			out = append(out, fmt.Sprintf("%d -> %d: %s", base[k], c, k))
		}
	}
	for k, c := range base {
		if _, ok := st[k]; !ok {
			out = append(out, fmt.Sprintf("%d -> 0: %s", c, k))
		}
	}
	sort.Strings(out)
	return out
}

// leakProbe takes ten probes, 500 ms apart, with traffic paused, each with
// the driver's goroutine stacks read right after it. It returns the last
// probe's counts with the floor over the ten (floor) of the stacks and of
// their kinds (kindOf): goroutines come and go (the metrics scrape's own
// connection, a worker starting), so a leak is a kind whose floor grew, not
// a count that moved.
func (s *soak) leakProbe(ctx context.Context) (soakProbe, error) {
	var p soakProbe
	var dumps []goroutineStacks
	for i := 0; i < 10; i++ {
		time.Sleep(500 * time.Millisecond)
		var err error
		if p, err = s.probe(ctx); err != nil {
			return p, err
		}
		st, err := s.dumpStacks(ctx)
		if err != nil {
			return p, err
		}
		dumps = append(dumps, st)
	}
	p.stacks = floor(dumps)
	kinds := make([]goroutineStacks, len(dumps))
	for i, d := range dumps {
		kinds[i] = d.kinds()
	}
	p.kinds = floor(kinds)
	return p, nil
}

// stackLine records a helper's "SOAK STACK n: count stack" line; w.mu is held.
func (w *soakWatch) stackLine(rest string) {
	var n, c int
	i := strings.Index(rest, ": ")
	if i < 0 {
		return
	}
	if _, err := fmt.Sscanf(rest[:i], "%d", &n); err != nil {
		return
	}
	rest = rest[i+2:]
	j := strings.IndexByte(rest, ' ')
	if j < 0 {
		return
	}
	if _, err := fmt.Sscanf(rest[:j], "%d", &c); err != nil {
		return
	}
	if w.stacks == nil {
		w.stacks = map[int]goroutineStacks{}
	}
	if w.stacks[n] == nil {
		w.stacks[n] = goroutineStacks{}
	}
	w.stacks[n][rest[j+1:]] = c
}

// dumpStacks has the guest helper print the driver's goroutine stacks and
// returns them.
func (s *soak) dumpStacks(ctx context.Context) (goroutineStacks, error) {
	s.ndumps++
	n := s.ndumps
	if err := s.vm.Signal(0, syscall.SIGHUP); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	line, err := s.vm.WaitOutput(wctx, 0, fmt.Sprintf("SOAK STACKS %d:", n))
	if err != nil {
		return nil, err
	}
	var total int
	i := strings.Index(line, "goroutines ")
	if i < 0 {
		return nil, fmt.Errorf("stacks: %q", line)
	}
	if _, err := fmt.Sscanf(line[i:], "goroutines %d", &total); err != nil {
		return nil, fmt.Errorf("stacks %q: %v", line, err)
	}
	if !strings.HasSuffix(line, "error <nil>") {
		return nil, fmt.Errorf("stacks: %q", line)
	}
	s.w.mu.Lock()
	st := s.w.stacks[n]
	delete(s.w.stacks, n)
	s.w.mu.Unlock()
	if st.total() != total {
		return nil, fmt.Errorf("stacks %d: %d goroutines in the lines, %d said", n, st.total(), total)
	}
	return st, nil
}

// floor is, for each stack, the fewest goroutines any of the dumps shows
// with it (0 if one lacks it): what stays through all of them. A goroutine
// that comes and goes between dumps (a scrape's connection reader, a worker
// being started) has floor 0; a leaked one is in every dump.
func floor(dumps []goroutineStacks) goroutineStacks {
	fl := goroutineStacks{}
	if len(dumps) == 0 {
		return fl
	}
	for k := range dumps[0] {
		m := dumps[0][k]
		for _, d := range dumps[1:] {
			m = min(m, d[k])
		}
		if m > 0 {
			fl[k] = m
		}
	}
	return fl
}

// grown lists the stacks end has more of than start, as "start -> end:
// stack".
func grown(start, end goroutineStacks) []string {
	var out []string
	for k, c := range end {
		if c > start[k] {
			out = append(out, fmt.Sprintf("%d -> %d: %s", start[k], c, k))
		}
	}
	sort.Strings(out)
	return out
}

// isWorker tells a workqueue worker's stack (deferral's worker_thread).
func isWorker(stack string) bool { return strings.Contains(stack, "deferral.(*worker).loop ") }

// others are the stacks of goroutines other than workqueue workers.
func (st goroutineStacks) others() goroutineStacks {
	o := goroutineStacks{}
	for k, c := range st {
		if !isWorker(k) {
			o[k] = c
		}
	}
	return o
}

// kindOf is a stack's kind: the function the goroutine started in (its
// outermost frame, without a line), or "workqueue worker". A goroutine's
// stack changes as it runs (the metrics server's accept loop is in Accept in
// most dumps and elsewhere in Serve in some: the 30-minute soak's floor by
// stack lost it at the end), its kind does not, so a leaked goroutine counts
// in its kind's floor whatever it is doing in each dump.
func kindOf(stack string) string {
	if isWorker(stack) {
		return "deferral.(*worker).loop (workqueue workers)"
	}
	if strings.HasPrefix(stack, "(no frames)") {
		return "(no frames)"
	}
	outer := stack[strings.LastIndex(stack, " < ")+1:]
	outer = strings.TrimPrefix(outer, "< ")
	if i := strings.LastIndexByte(outer, ' '); i > 0 {
		outer = outer[:i] // the file:line
	}
	return outer
}

// kinds folds st by kind.
func (st goroutineStacks) kinds() goroutineStacks {
	k := goroutineStacks{}
	for s, c := range st {
		k[kindOf(s)] += c
	}
	return k
}
