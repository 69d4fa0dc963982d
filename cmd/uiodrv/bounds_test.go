package main

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Every list and size has a bound, checked before anything is allocated
// for it: a CPU range up to 2^63 once looped forever, 0-100000000 exhausted
// memory, an --rt-mem-limit overflowed when shifted to bytes, and
// rt --period 1ns made a SCHED_FIFO busy loop.
func TestBounds(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dev", "0000:00:03.0", "--housekeeping-cpus", "0-2000"}, "above the kernel's CPU limit"},
		{[]string{"--dev", "0000:00:03.0", "--housekeeping-cpus", "0-100000000"}, "above the kernel's CPU limit"},
		{[]string{"--dev", "0000:00:03.0", "--housekeeping-cpus", "0-9223372036854775807"}, "above the kernel's CPU limit"},
		{[]string{"--dev", "0000:00:03.0", "--housekeeping-cpus", strings.Repeat("0-1023,", 2) + "0"}, "more than 1024 CPUs"},
		{[]string{"--dev", "0000:00:03.0", "--rt-lock", "--rt-mem-limit", "9223372036854775807"}, "--rt-mem-limit 9223372036854775807: want 64 to 16777216"},
		{[]string{"--dev", "0000:00:03.0", "--rt-lock", "--rt-mem-limit", "8796093022208"}, "want 64 to 16777216"},
		{[]string{"rt", "--period", "1ns", "--work", "0"}, "--period 1ns: want 50µs to 1s"},
		{[]string{"rt", "--period", "2s"}, "--period 2s"},
		{[]string{"rt", "--duration", "100h"}, "--duration 100h0m0s: want at most 24h"},
		{[]string{"rt", "--delay", "2h"}, "--delay 2h0m0s"},
	} {
		start := time.Now()
		code, out, errOut := runCLI(c.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("uiodrv %v: exit %d, stdout %q, stderr %q; want exit 2 naming %q", c.args, code, out, errOut, c.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("uiodrv %v took %v to refuse", c.args, d)
		}
	}
	if cpus, err := parseCPUList("0-1023"); err != nil || len(cpus) != 1024 {
		t.Errorf("parseCPUList(0-1023) = %d CPUs, %v; want 1024", len(cpus), err)
	}
}

// uiodrv rt stops cleanly on SIGINT: the summary is printed and the exit
// status is 0; before, the signal killed it in the middle of the run.
func TestRTStopsOnSignal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SCHED_FIFO needs root")
	}
	var o, e syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cliMain([]string{"rt", "--cpu", "0", "--prio", "1", "--period", "1ms", "--work", "0",
			"--duration", "60s", "--mlock=false", "--list=false"}, &o, &e)
	}()
	// Wait for the run to start (the header line) before signalling.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(o.String(), "uiodrv rt: SCHED_FIFO"); {
		if time.Now().After(deadline) {
			t.Fatalf("rt did not start:\n%s%s", o.String(), e.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case code := <-done:
		if code != exitOK || !strings.Contains(o.String(), "stopped by signal") || !strings.Contains(o.String(), "rt: jobs ") {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, o.String(), e.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SIGINT did not stop uiodrv rt")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
