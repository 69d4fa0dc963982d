package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/handler"
	"github.com/uiodrv/uiodrv/internal/testframe"
)

const pktgenUsage = `Usage: uiodrv pktgen --dev BDF [--rate PPS] [--size N] [--count N] [flags]

Transmits numbered test frames (UDP/IPv4 over 64 flows, sequence number and
send time in the payload, checksums set; internal/testframe) out of the NIC at BDF at --rate frames per second, for --count
frames or --duration, whichever comes first, while counting what it receives.
Frames are copied into the device's buffers (driver.Port.Transmit) in batches
of at most 1 ms worth. --metrics serves the port's counters as the run command
does. Signals end it as they end a run (see uiodrv run --help).

Examples:
  uiodrv pktgen --dev 0000:00:03.0 --rate 10000 --size 64 --count 100000
  uiodrv pktgen --dev 0000:00:03.0 --rate 1000 --duration 10s --dst 52:54:00:12:34:57

Flags:
`

// pktgenIgnores are the run command's flags that pktgen has no use for: it
// counts what it receives (no capture, reflection or forwarding), and it
// neither locks memory, moves threads nor injects faults. Given, they are
// usage errors rather than silently ignored.
var pktgenIgnores = []string{"handler", "pcap", "pcap-overwrite", "fwd-dev",
	"rt-lock", "rt-mem-limit", "housekeeping-cpus", "fault-panic-every"}

// pktgenFlows is how many flows (5-tuples) pktgen's frames cycle through,
// as the lab's traffic does: frame n is on flow n%pktgenFlows.
const pktgenFlows = 64

// pktgenFrame builds pktgen's frame seq, sent at ts (ns since the start),
// into buf (its length is the frame's). It does not allocate.
func pktgenFrame(buf []byte, dst, src [6]byte, seq uint64, ts int64) []byte {
	return testframe.Build(buf, testframe.Frame{Dst: dst, Src: src, Flow: int(seq % pktgenFlows), Seq: seq, Stamp: ts, Len: len(buf)})
}

func cmdPktgen(e *env, args []string) int {
	var f runFlags
	var rate, size int
	var dst string
	fs := pflag.NewFlagSet("pktgen", pflag.ContinueOnError)
	f.add(fs)
	fs.IntVar(&rate, "rate", 1000, "frames per second")
	fs.IntVar(&size, "size", 64, "frame size in bytes without FCS, 60-1514")
	fs.StringVar(&dst, "dst", "ff:ff:ff:ff:ff:ff", "destination MAC address")
	fs.Lookup("count").Usage = "frames to send (0: no limit)"
	for _, n := range pktgenIgnores {
		_ = fs.MarkHidden(n)
	}
	if st, done := parseFlags(e, fs, "pktgen", pktgenUsage, args); done {
		return st
	}
	for _, n := range pktgenIgnores {
		if fs.Changed(n) {
			return report(e.stderr, "pktgen", usagef("--%s: pktgen does not use it (a flag of uiodrv run): leave it out", n))
		}
	}
	if size < 60 || size > 1514 {
		return report(e.stderr, "pktgen", usagef("--size %d: want 60 to 1514 bytes", size))
	}
	if rate < 1 {
		return report(e.stderr, "pktgen", usagef("--rate %d: want at least 1", rate))
	}
	mac, err := net.ParseMAC(dst)
	if err != nil || len(mac) != 6 {
		return report(e.stderr, "pktgen", usagef("--dst %q: want a MAC address like 52:54:00:12:34:56", dst))
	}
	f.handler = "count"
	if err := f.validate(); err != nil {
		return report(e.stderr, "pktgen", err)
	}
	log, err := f.log.logger(e.stderr)
	if err != nil {
		return report(e.stderr, "pktgen", err)
	}
	defer log.Sync()
	guard := &busGuard{}
	ctx, stop := notifyStop(e.stderr, guard, os.Exit)
	defer stop()
	raiseMemlock()
	return report(e.stderr, "pktgen", pktgen(ctx, e, &f, rate, size, mac, guard, log))
}

func pktgen(ctx context.Context, e *env, f *runFlags, rate, size int, dst net.HardwareAddr, guard *busGuard, log *zap.Logger) error {
	pre, err := prepare(f, bus.Sysfs{Root: f.sysfs}, readLimits(), guard)
	if err != nil {
		return err
	}
	defer pre.release(false)
	port, dev, err := openPort(f, f.dev, handler.NewCount(), log.With(zap.String("dev", f.addr.String())))
	if err != nil {
		return err
	}
	var snap atomic.Pointer[driver.Stats]
	first := port.Stats()
	snap.Store(&first)
	if pre.metrics != nil {
		srv := serveMetrics(pre.metrics, f.addr.String(), f.parsedMode.String(), snap.Load, log)
		pre.metrics = nil // the server owns the listener
		defer srv.Close()
	}
	select {
	case <-ctx.Done():
	case <-time.After(f.settle):
	}
	fmt.Fprintf(e.stdout, "uiodrv: pktgen ready on %s (%s %s): %d frames/s of %d bytes to %s\n", f.addr, dev.Name, dev.MAC, rate, size, dst)

	// Test frames (internal/testframe), rebuilt in place for each send (the
	// payload pattern and UDP checksum follow the sequence number); a
	// receiver checks them byte for byte with testframe.Check.
	const batch = 64
	frames := make([][]byte, batch)
	for i := range frames {
		frames[i] = make([]byte, size)
	}
	var dstMAC, srcMAC [6]byte
	copy(dstMAC[:], dst)
	copy(srcMAC[:], dev.MAC)
	every := f.statsEvery
	if every == 0 && isTerminal(e.stdout) {
		every = time.Second
	}
	var sent, full uint64
	begin := time.Now()
	m := newMeter(port.Stats())
	next := begin.Add(every)
	lastSnap := begin
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var end <-chan time.Time
	if f.duration > 0 {
		end = time.After(f.duration)
	}
	reason := "count"
loop:
	for f.count == 0 || sent < f.count {
		select {
		case <-ctx.Done():
			reason = "signal"
			break loop
		case <-end:
			reason = "duration"
			break loop
		case now := <-tick.C:
			due := uint64(now.Sub(begin).Seconds() * float64(rate))
			if f.count > 0 {
				due = min(due, f.count)
			}
			for sent < due {
				n := int(min(due-sent, batch))
				ts := time.Since(begin).Nanoseconds()
				for i := range n {
					pktgenFrame(frames[i], dstMAC, srcMAC, sent+uint64(i), ts)
				}
				k, err := port.Transmit(frames[:n])
				if err != nil { // --size is checked before the device opens; this is a bug
					port.Close()
					return fmt.Errorf("transmit: %w", err)
				}
				sent += uint64(k)
				if k < n { // TX ring or buffer pool full: the NIC is behind; try next tick
					full++
					break
				}
			}
			if now.Sub(lastSnap) >= 250*time.Millisecond {
				st := port.Stats()
				snap.Store(&st)
				lastSnap = now
			}
			if every > 0 && !now.Before(next) {
				st := port.Stats()
				snap.Store(&st)
				fmt.Fprintln(e.stdout, m.line(&st, now))
				next = now.Add(every)
			}
		}
	}
	drainTx(port)
	elapsed := time.Since(begin)
	cerr := port.Close()
	st := port.Stats()
	fmt.Fprintf(e.stdout, "--- uiodrv pktgen summary: %s, %v (stopped by %s)\n", f.addr, elapsed.Round(time.Millisecond), reason)
	fmt.Fprintf(e.stdout, "sent      %d frames of %d bytes (%.0f pps avg, asked %d); NIC tx_good %d; backpressure %d times\n",
		sent, size, float64(sent)/elapsed.Seconds(), rate, st.HW.TxPackets, full)
	fmt.Fprintf(e.stdout, "received  %d frames; drops %s\n", st.RxPackets, drops(&st))
	if cerr != nil {
		return fmt.Errorf("close: %w", cerr)
	}
	log.Info("device released")
	return nil
}
