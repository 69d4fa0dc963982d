package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/bus"
)

// memConfig is a configuration space in memory.
type memConfig struct {
	mu sync.Mutex
	b  [256]byte
}

func (m *memConfig) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copy(p, m.b[off:]), nil
}

func (m *memConfig) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copy(m.b[off:], p), nil
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Each stop signal ends a run the clean way (the context is cancelled, so
// the port is closed), SIGHUP, SIGPIPE and SIGQUIT as SIGINT and SIGTERM.
func TestStopSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGINT} {
		ctx, stop := notifyStop(io.Discard, &busGuard{}, func(code int) { t.Errorf("%v: forced exit %d", sig, code) })
		if err := syscall.Kill(os.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Errorf("%v did not stop the run", sig)
		}
		stop()
	}
}

// A second SIGINT or SIGTERM forces the exit, and bus mastering is off
// before it; other signals after the first (SIGPIPE repeats on every write
// to a closed pipe) do not.
func TestSecondSignalForcesExit(t *testing.T) {
	for _, second := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cs := &memConfig{}
		cs.b[bus.CfgCommand] = bus.CmdMemory | bus.CmdMaster | bus.CmdIO
		cs.b[bus.CfgCommand+1] = bus.CmdINTxDisable >> 8
		g := &busGuard{}
		g.addConfig(bus.MustParseAddr("0000:00:03.0"), bus.NewConfig(cs), nil)
		g.addConfig(bus.MustParseAddr("0000:00:04.0"), nil, errors.New("open config: permission denied"))
		var stderr syncBuf
		exited := make(chan int, 1)
		ctx, stop := notifyStop(&stderr, g, func(code int) { exited <- code })
		syscall.Kill(os.Getpid(), syscall.SIGPIPE)
		<-ctx.Done()
		syscall.Kill(os.Getpid(), syscall.SIGPIPE)
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		select {
		case code := <-exited:
			t.Fatalf("SIGPIPE/SIGHUP after the first signal forced exit %d", code)
		case <-time.After(200 * time.Millisecond):
		}
		syscall.Kill(os.Getpid(), second)
		select {
		case code := <-exited:
			if code != exitFailure {
				t.Errorf("forced exit status %d, want 1", code)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("a second %v did not force the exit", second)
		}
		stop()
		cmd := uint16(cs.b[bus.CfgCommand]) | uint16(cs.b[bus.CfgCommand+1])<<8
		if cmd != bus.CmdMemory|bus.CmdIO|bus.CmdINTxDisable {
			t.Errorf("command register %#04x after the forced exit, want bus master (bit 2) clear and the rest kept", cmd)
		}
		out := stderr.String()
		for _, w := range []string{"second signal (" + second.String() + ")", "bus mastering off on 0000:00:03.0",
			"bus mastering on 0000:00:04.0 left to the kernel (open config: permission denied)"} {
			if !strings.Contains(out, w) {
				t.Errorf("forced exit message lacks %q:\n%s", w, out)
			}
		}
		g.close()
	}
}
