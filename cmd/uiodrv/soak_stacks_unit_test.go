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
// per goroutine, and go away when it ends; workers are told apart.
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
		for k := range st {
			if strings.Contains(k, "pprof.writeGoroutine ") {
				delete(st, k) // this reader, called from different lines
			}
		}
		return st
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

// TestSoakLeakCheck: a stack in every end dump and not at the start fails
// the check; one that comes and goes (in some dumps only) does not, and
// neither do workqueue workers.
func TestSoakLeakCheck(t *testing.T) {
	const (
		base   = "main.loop run.go:1"
		churn  = "net/http.(*connReader).backgroundRead server.go:702"
		leak   = "main.leaky x.go:9"
		worker = "sync.(*Cond).Wait cond.go:71 < github.com/uiodrv/uiodrv/deferral.(*worker).loop workqueue_worker.go:1"
	)
	dumps := func(churns bool, extra ...goroutineStacks) []goroutineStacks {
		var d []goroutineStacks
		for i := 0; i < 10; i++ {
			st := goroutineStacks{base: 1, worker: 1}
			if churns && i%3 == 0 {
				st[churn] = 1
			}
			for _, x := range extra {
				for k, c := range x {
					st[k] += c
				}
			}
			d = append(d, st)
		}
		return d
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
	s.start = soakProbe{fds: 14, stacks: floor(dumps(false))}
	s.end = soakProbe{fds: 14, stacks: floor(dumps(true, goroutineStacks{worker: 2}))}
	if e := leakErrs(s); len(e) != 0 {
		t.Errorf("churn and more workers: %q", e)
	}
	s.end = soakProbe{fds: 14, stacks: floor(dumps(true, goroutineStacks{leak: 2}))}
	if e := leakErrs(s); len(e) != 1 || !strings.Contains(e[0], "0 -> 2: "+leak) {
		t.Errorf("a leaked stack: %q", e)
	}
	s.end = soakProbe{fds: 15, stacks: floor(dumps(true))}
	if e := leakErrs(s); len(e) != 1 || !strings.Contains(e[0], "fds 14 -> 15") {
		t.Errorf("a leaked fd: %q", e)
	}
}
