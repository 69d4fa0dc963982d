package main

import (
	"bytes"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestGoroutineStacks folds this process's own goroutine profile: a
// goroutine parked in a known function must show up as its own stack, once
// per goroutine, and go away when it ends; workers are told apart. Only
// this test's goroutines are compared: other tests' come and go.
func TestGoroutineStacks(t *testing.T) {
	read := func() goroutineStacks {
		var b bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
			t.Fatal(err)
		}
		st, err := parseGoroutineProfile(b.String())
		if err != nil {
			t.Fatal(err)
		}
		mine := goroutineStacks{}
		for k, c := range st {
			if strings.Contains(k, "cmd/uiodrv.TestGoroutineStacks soak_stacks_unit_test.go:") && !strings.Contains(k, "pprof.writeGoroutine ") {
				t.Errorf("this test's own goroutine: %q", k) // it is always in the reader
			}
			if strings.Contains(k, "cmd/uiodrv.parkedForStackTest ") {
				mine[k] = c
			}
		}
		return mine
	}
	base := read()
	stop := make(chan struct{})
	started := make(chan struct{}, 3)
	for i := 0; i < 3; i++ {
		go parkedForStackTest(stop, started)
	}
	for i := 0; i < 3; i++ {
		<-started
	}
	during := read()
	d := during.diff(base)
	if len(d) != 1 || !strings.HasPrefix(d[0], "0 -> 3: ") || !strings.Contains(d[0], "/cmd/uiodrv.parkedForStackTest soak_stacks_unit_test.go:") {
		t.Errorf("three parked goroutines: diff %q", d)
	}
	close(stop)
	for i := 0; i < 100; i++ {
		if len(read().diff(base)) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond) // the goroutines are ending
	}
	if d := read().diff(base); len(d) != 0 {
		t.Errorf("after they ended: diff %q", d)
	}
	if isWorker("main.f x.go:1 < deferral.foo y.go:2") || !isWorker("runtime.gopark proc.go:1 < github.com/uiodrv/uiodrv/deferral.(*worker).loop workqueue.go:3") {
		t.Error("isWorker")
	}
	if _, err := parseGoroutineProfile("goroutine profile: total 1\nbogus\n"); err == nil {
		t.Error("a bad profile parsed")
	}
}

func parkedForStackTest(stop <-chan struct{}, started chan<- struct{}) {
	started <- struct{}{}
	<-stop
}

// TestSoakLeakCheck: a goroutine in every end dump and not at the start
// fails the check, even when its stack differs from dump to dump; one that
// comes and goes (in some dumps only) does not, nor does one whose stack
// moves, nor do workqueue workers.
func TestSoakLeakCheck(t *testing.T) {
	const (
		base   = "main.loop run.go:1 < main.main main.go:2"
		churn  = "internal/poll.(*FD).Read fd_unix.go:165 < net/http.(*connReader).backgroundRead server.go:702"
		accept = "internal/poll.(*FD).Accept fd_unix.go:613 < net/http.(*Server).Serve server.go:3434 < main.serveMetrics.func1 metrics.go:115"
		moved  = "net/http.(*Server).Serve server.go:3460 < main.serveMetrics.func1 metrics.go:115" // the accept loop, between two Accepts
		leak1  = "time.Sleep time.go:1 < main.leaky x.go:9"
		leak2  = "main.work x.go:20 < main.leaky x.go:12"
		worker = "sync.(*Cond).Wait cond.go:71 < github.com/uiodrv/uiodrv/deferral.(*worker).loop workqueue_worker.go:1 < github.com/uiodrv/uiodrv/deferral.startThread.func1 thread.go:26"
	)
	// side is ten dumps; the accept loop is elsewhere in Serve in dump 4
	// when moves, and extra (if any) is in every dump, alternating between
	// its stacks.
	side := func(churns, moves bool, extra ...string) soakProbe {
		var d []goroutineStacks
		for i := 0; i < 10; i++ {
			st := goroutineStacks{base: 1, worker: 1, accept: 1}
			if churns && i%3 == 0 {
				st[churn] = 1
			}
			if moves && i == 4 {
				delete(st, accept)
				st[moved] = 1
			}
			if len(extra) > 0 {
				st[extra[i%len(extra)]]++
			}
			d = append(d, st)
		}
		p := soakProbe{fds: 14, stacks: floor(d)}
		kinds := make([]goroutineStacks, len(d))
		for i := range d {
			kinds[i] = d[i].kinds()
		}
		p.kinds = floor(kinds)
		return p
	}
	leakErrs := func(s *soakSummary) []string {
		var out []string
		for _, e := range s.check() {
			if strings.HasPrefix(e, "leak check") {
				out = append(out, e)
			}
		}
		return out
	}
	s := &soakSummary{o: soakOptions{panicEvery: 1}}
	s.start = side(false, false)
	s.end = side(true, true)
	s.end.kinds["deferral.(*worker).loop (workqueue workers)"] += 2
	if e := leakErrs(s); len(e) != 0 {
		t.Errorf("churn, a goroutine whose stack moved, more workers: %q", e)
	}
	s.end = side(true, true, leak1, leak2)
	if e := leakErrs(s); len(e) != 1 || !strings.Contains(e[0], "0 -> 1: main.leaky\n") && !strings.HasSuffix(e[0], "0 -> 1: main.leaky") {
		t.Errorf("a leaked goroutine whose stack moves: %q", e)
	}
	s.end = side(true, false, leak1)
	s.end.kinds["main.leaky"]++ // two of them
	if e := leakErrs(s); len(e) != 1 || !strings.Contains(e[0], "0 -> 2: main.leaky") {
		t.Errorf("two leaked goroutines: %q", e)
	}
	s.end = side(true, false)
	s.end.fds = 15
	if e := leakErrs(s); len(e) != 1 || !strings.Contains(e[0], "fds 14 -> 15") {
		t.Errorf("a leaked fd: %q", e)
	}
	for stack, want := range map[string]string{
		accept: "main.serveMetrics.func1", moved: "main.serveMetrics.func1", worker: "deferral.(*worker).loop (workqueue workers)",
		"main.f x.go:1": "main.f", "(no frames) @ 0x1 0x2": "(no frames)",
	} {
		if k := kindOf(stack); k != want {
			t.Errorf("kindOf(%q) = %q, want %q", stack, k, want)
		}
	}
}
