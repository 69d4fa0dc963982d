package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/qemu"
)

// soakWatch reads the guest's output as it comes: it logs it (the driver's
// once-a-second statistics only every tenth time), and follows the driver's
// link state and watchdog re-initialisations for the fault schedule.
type soakWatch struct {
	t       *testing.T
	mu      sync.Mutex
	changed chan struct{}
	buf     []byte
	done    bool
	linkUp  bool
	gen     uint64 // lines that told the link state
	reinits int    // watchdog re-initialisations logged
	stats   int
	stacks  map[int]goroutineStacks // the helper's SOAK STACK lines, by dump
}

func newSoakWatch(t *testing.T) *soakWatch {
	w := &soakWatch{t: t, changed: make(chan struct{})}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return w
}

func (w *soakWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		w.line(line)
	}
}

// line handles one "[cmd] text" line; w.mu is held.
func (w *soakWatch) line(line string) {
	if rest, ok := strings.CutPrefix(line, "[0] SOAK STACK "); ok {
		w.stackLine(rest)
		return
	}
	isDriver := strings.HasPrefix(line, "[1] ")
	isStats := isDriver && strings.HasPrefix(line, "[1] rx ")
	if isDriver {
		switch {
		case strings.Contains(line, "link down"):
			w.linkUp, w.gen = false, w.gen+1
		case strings.Contains(line, "link up"):
			w.linkUp, w.gen = true, w.gen+1
		}
		if strings.Contains(line, "re-initialising") {
			w.reinits++
		}
		close(w.changed)
		w.changed = make(chan struct{})
	}
	if isStats {
		w.stats++
	}
	if !w.done && (!isStats || w.stats%10 == 1) {
		w.t.Log(line)
	}
}

// state returns the link state last told, how many lines told it, and the
// re-initialisations so far.
func (w *soakWatch) state() (up bool, gen uint64, reinits int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.linkUp, w.gen, w.reinits
}

// waitFor waits until cond holds for the watched state, or d passes.
func (w *soakWatch) waitFor(ctx context.Context, d time.Duration, cond func(up bool, gen uint64, reinits int) bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok := cond(w.linkUp, w.gen, w.reinits)
		ch := w.changed
		w.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// waitLink waits for a line after gen that tells the link is up (or down).
func (w *soakWatch) waitLink(ctx context.Context, d time.Duration, up bool, after uint64) bool {
	return w.waitFor(ctx, d, func(u bool, g uint64, _ int) bool { return g > after && u == up })
}

// soak drives the traffic and the faults of TestLabSoak.
type soak struct {
	t  *testing.T
	vm *qemu.VM
	w  *soakWatch
	o  soakOptions
	tr *traffic

	paused atomic.Bool
	sum    soakSummary
	ndumps int // goroutine stack dumps asked of the helper
}

func newSoak(t *testing.T, vm *qemu.VM, w *soakWatch, o soakOptions) *soak {
	return &soak{t: t, vm: vm, w: w, o: o, tr: newTraffic(vm.Peer(0), o.size)}
}

// send sends at o.rate while not paused, catching up no more than 10 ms of
// frames at a time (a pause never turns into a burst).
func (s *soak) send(ctx context.Context, stop <-chan struct{}) {
	buf := make([]byte, 2048)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	credit := 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case now := <-tick.C:
			dt := now.Sub(last)
			last = now
			if s.paused.Load() {
				credit = 0
				continue
			}
			credit = min(credit+dt.Seconds()*float64(s.o.rate), float64(s.o.rate)/100+1)
			for ; credit >= 1; credit-- {
				seq := s.tr.sent.Load()
				s.tr.sent.Add(1) // before Send: check() rejects seq >= sent
				if err := s.tr.peer.Send(s.tr.frame(buf, uint32(seq), time.Since(s.tr.start).Nanoseconds())); err != nil {
					s.tr.sent.Add(^uint64(0))
					s.t.Errorf("send: %v", err)
					return
				}
			}
		}
	}
}

func (s *soak) receive(stop <-chan struct{}) {
	buf := make([]byte, 2048)
	for {
		n, err := s.tr.peer.RecvInto(buf, time.Now().Add(100*time.Millisecond))
		if err == nil {
			s.tr.check(buf[:n], time.Now())
			continue
		}
		select {
		case <-stop:
			return
		default:
		}
	}
}

// pause stops the sender and waits until every frame sent has reached the
// NIC (its rx_good counter, read from the driver's metrics through the
// guest helper) and then nothing has come back for 300 ms. Waiting for quiet
// alone was not enough: with the guest starved of CPU (the first 30-minute
// soak, without the lab lock, beside other boots) a round trip took up to
// 1.2 s.
func (s *soak) pause(ctx context.Context) time.Time {
	s.paused.Store(true)
	at := time.Now()
	sent := s.tr.sent.Load()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		if p, err := s.probe(ctx); err == nil && uint64(p.nicRx) >= sent {
			break
		}
	}
	last, quiet := s.tr.recv.Load(), time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r := s.tr.recv.Load(); r != last {
			last, quiet = r, time.Now()
		} else if time.Since(quiet) >= 300*time.Millisecond {
			break
		}
	}
	return at
}

func (s *soak) resume(since time.Time) {
	s.sum.paused += time.Since(since)
	s.paused.Store(false)
}

// probe asks the guest helper for the driver's open fds and goroutines.
func (s *soak) probe(ctx context.Context) (soakProbe, error) {
	s.sum.nprobes++
	n := s.sum.nprobes
	if err := s.vm.Signal(0, syscall.SIGUSR2); err != nil {
		return soakProbe{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	line, err := s.vm.WaitOutput(wctx, 0, fmt.Sprintf("SOAK PROBE %d:", n))
	if err != nil {
		return soakProbe{}, err
	}
	var p soakProbe
	i := strings.Index(line, "fds ")
	if i < 0 {
		return p, fmt.Errorf("probe: %q", line)
	}
	if _, err := fmt.Sscanf(line[i:], "fds %d goroutines %d threads %d kworkers %d nic_rx_good %d",
		&p.fds, &p.goroutines, &p.threads, &p.kworkers, &p.nicRx); err != nil {
		return p, fmt.Errorf("probe %q: %v", line, err)
	}
	return p, nil
}

// flap sets the link down and up through QMP, with the sender paused, and
// waits for the driver to see each edge.
func (s *soak) flap(ctx context.Context) {
	at := s.pause(ctx)
	defer s.resume(at)
	_, gen, _ := s.w.state()
	if err := s.vm.SetLink(0, false); err != nil {
		s.t.Errorf("QMP set_link down: %v", err)
		return
	}
	if !s.w.waitLink(ctx, 10*time.Second, false, gen) {
		s.t.Errorf("flap %d: the driver did not report the link down", s.sum.flaps+1)
	}
	time.Sleep(s.o.downFor)
	_, gen, _ = s.w.state()
	if err := s.vm.SetLink(0, true); err != nil {
		s.t.Errorf("QMP set_link up: %v", err)
		return
	}
	if !s.w.waitLink(ctx, 10*time.Second, true, gen) {
		s.t.Errorf("flap %d: the driver did not report the link up", s.sum.flaps+1)
	}
	s.sum.flaps++
}

// stop stops the driver process for o.stopFor with traffic flowing.
func (s *soak) stop() {
	if err := s.vm.Signal(1, syscall.SIGSTOP); err != nil {
		s.t.Errorf("SIGSTOP: %v", err)
		return
	}
	time.Sleep(s.o.stopFor)
	if err := s.vm.Signal(1, syscall.SIGCONT); err != nil {
		s.t.Errorf("SIGCONT: %v", err)
		return
	}
	s.sum.stops++
}

// reset has the guest helper reset the NIC under the driver and waits for
// the driver's watchdog to re-initialise it.
func (s *soak) reset(ctx context.Context) {
	at := s.pause(ctx)
	defer s.resume(at)
	_, _, before := s.w.state()
	began := time.Now()
	if err := s.vm.Signal(0, syscall.SIGUSR1); err != nil {
		s.t.Errorf("reset: %v", err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	line, err := s.vm.WaitOutput(wctx, 0, fmt.Sprintf("SOAK RESET %d:", s.sum.resets+1))
	if err != nil {
		s.t.Errorf("reset: %v", err)
		return
	}
	s.sum.resets++
	s.sum.resetHow = line[strings.Index(line, "SOAK RESET"):]
	if !s.w.waitFor(ctx, 20*time.Second, func(_ bool, _ uint64, r int) bool { return r > before }) {
		s.t.Errorf("reset: the driver's watchdog did not re-initialise the NIC within 20 s")
		return
	}
	s.sum.recovery = time.Since(began)
	_, gen, _ := s.w.state()
	if !s.w.waitLink(ctx, 10*time.Second, true, gen) {
		s.t.Errorf("reset: the link did not come back up")
	}
	// QEMU's e1000 holds RX for 1 s after RCTL is written (the re-init
	// writes it): frames sent now would wait in QEMU's socket buffer.
	time.Sleep(1200 * time.Millisecond)
}

// run sends and injects faults for o.duration and returns the host's side
// of the summary; the driver's side is added once it has exited.
func (s *soak) run(ctx context.Context) *soakSummary {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.send(ctx, stop) }()
	go func() { defer wg.Done(); s.receive(stop) }()
	begin := time.Now()
	at := func(d time.Duration) {
		if w := time.Until(begin.Add(d)); w > 0 {
			select {
			case <-time.After(w):
			case <-ctx.Done():
			}
		}
	}
	sockStart, sockErr := udpDrops(s.tr.peer.QEMUPort())
	if sockErr != nil {
		s.t.Errorf("host socket drops: %v", sockErr)
	}
	// Warm up, then the starting probe, taken quiet as the last one is.
	at(5 * time.Second)
	p := s.pause(ctx)
	var err error
	if s.sum.start, err = s.leakProbe(ctx); err != nil {
		s.t.Errorf("start probe: %v", err)
	}
	s.t.Logf("soak: the driver's goroutines at the start:\n%s", strings.Join(s.sum.start.stacks.lines(), "\n"))
	s.resume(p)
	resetAt := (s.o.duration / 2 / s.o.flapEvery) * s.o.flapEvery
	nextFlap, nextStop := s.o.flapEvery, s.o.flapEvery/2+s.o.stopEvery
	for ctx.Err() == nil {
		next := min(nextFlap, nextStop)
		if next > s.o.duration-5*time.Second {
			break
		}
		at(next)
		switch {
		case next == nextFlap && next == resetAt:
			s.reset(ctx)
			nextFlap += s.o.flapEvery
		case next == nextFlap:
			s.flap(ctx)
			nextFlap += s.o.flapEvery
		default:
			s.stop()
			nextStop += s.o.stopEvery
		}
	}
	at(s.o.duration)
	p = s.pause(ctx)
	if s.sum.end, err = s.leakProbe(ctx); err != nil {
		s.t.Errorf("end probe: %v", err)
	}
	s.t.Logf("soak: the driver's goroutines at the end:\n%s", strings.Join(s.sum.end.stacks.lines(), "\n"))
	s.resume(p)
	s.paused.Store(true)
	close(stop)
	wg.Wait()
	if sockEnd, err := udpDrops(s.tr.peer.QEMUPort()); err == nil && sockErr == nil {
		s.sum.sockDrops = sockEnd - sockStart
	} else {
		s.t.Errorf("host socket drops: %v", err)
	}
	s.sum.o = s.o
	s.sum.elapsed = time.Since(begin)
	s.sum.sent, s.sum.recv, s.sum.intact = s.tr.sent.Load(), s.tr.recv.Load(), s.tr.intact.Load()
	s.sum.corrupt, s.sum.dup = s.tr.corrupt.Load(), s.tr.dup.Load()
	s.tr.mu.Lock()
	s.sum.p50, s.sum.p99, s.sum.max = time.Duration(s.tr.rtt.Quantile(0.5)), time.Duration(s.tr.rtt.Quantile(0.99)), time.Duration(s.tr.rtt.Max())
	s.tr.mu.Unlock()
	return &s.sum
}
