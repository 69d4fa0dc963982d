package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/uiodrv/uiodrv/bus"
)

// A run ends cleanly on any of these signals: the port is closed (interrupts
// off, the NIC reset, DMA memory released) and the summary printed. SIGHUP is
// a closed terminal, SIGPIPE a closed pipe (uiodrv ... | head: a write to
// stdout then fails with EPIPE instead of killing the process), SIGQUIT a
// user who wants out (Go's default would dump goroutines and skip Close).
var stopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGQUIT}

// notifyStop returns a context that the first stop signal cancels, and a
// function that stops listening. A second SIGINT or SIGTERM while the port
// closes forces an exit at once (exit status 1), after turning bus mastering
// off through guard so that the NIC cannot write memory the exit frees.
// Other signals after the first are ignored (SIGPIPE repeats on every write
// to a closed pipe). exit is os.Exit outside tests.
func notifyStop(stderr io.Writer, guard *busGuard, exit func(int)) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, stopSignals...)
	done := make(chan struct{})
	go func() {
		var first os.Signal
		for {
			select {
			case <-done:
				return
			case s := <-ch:
				switch {
				case first == nil:
					first = s
					cancel()
				case s == syscall.SIGINT || s == syscall.SIGTERM:
					fmt.Fprintf(stderr, "uiodrv: second signal (%v) while closing: exiting at once; %s\n", s, guard.stopDMA())
					exit(exitFailure)
					return
				}
			}
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			// Writes to a closed stdout after this return EPIPE rather
			// than kill the process before it reports: SIGPIPE stays
			// handled, into a channel nobody reads (Notify never blocks).
			signal.Notify(pipeSink, syscall.SIGPIPE)
			signal.Stop(ch)
			close(done)
			cancel()
		})
	}
}

var pipeSink = make(chan os.Signal, 1)

// busGuard holds each device's PCI configuration space (sysfs), opened
// before the device is, for the forced exit: clearing Bus Master Enable
// (command register bit 2) stops the NIC's DMA before the process's memory
// goes away. The port's own Close does this on the normal path.
//
// Opening sysfs config read-write needs root. Without it (an unprivileged
// VFIO run) the forced exit relies on the kernel: vfio-pci clears bus
// mastering and resets the device when the process's device fd closes, and
// until the IOMMU mappings go the pages stay pinned, so a late write cannot
// reach freed memory.
type busGuard struct {
	mu   sync.Mutex
	devs []guarded
}

type guarded struct {
	addr bus.Addr
	cfg  *bus.Config // nil when config space could not be opened
	err  error
	// stopRX, when set (UIO runs, stoprx.go), clears RX/TX enable through
	// the guard's own BAR0 mapping before bus mastering goes off.
	stopRX func()
	unmap  func()
	rxErr  error
}

// add opens the device's config space; a failure is kept for stopDMA's report.
func (g *busGuard) add(s bus.Sysfs, a bus.Addr) {
	cfg, err := s.OpenConfig(a)
	g.addConfig(a, cfg, err)
}

func (g *busGuard) addConfig(a bus.Addr, cfg *bus.Config, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.devs = append(g.devs, guarded{addr: a, cfg: cfg, err: err})
}

// stopDMA clears Bus Master Enable on every device and says what it did.
func (g *busGuard) stopDMA() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var parts []string
	for _, d := range g.devs {
		switch {
		case d.stopRX != nil:
			d.stopRX()
			parts = append(parts, fmt.Sprintf("RX and TX off on %s", d.addr))
		case d.rxErr != nil:
			parts = append(parts, fmt.Sprintf("RX enable on %s left for the next run's reset (%v)", d.addr, d.rxErr))
		}
		err := d.err
		if d.cfg != nil {
			err = d.cfg.DisableBusMaster()
		}
		if err != nil {
			parts = append(parts, fmt.Sprintf("bus mastering on %s left to the kernel (%v)", d.addr, err))
		} else {
			parts = append(parts, fmt.Sprintf("bus mastering off on %s", d.addr))
		}
	}
	if len(parts) == 0 {
		return "no device was open"
	}
	return strings.Join(parts, "; ")
}

// close closes the config files. Idempotent.
func (g *busGuard) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, d := range g.devs {
		if d.cfg != nil {
			d.cfg.Close()
		}
		if d.unmap != nil {
			d.unmap()
		}
	}
	g.devs = nil
}
