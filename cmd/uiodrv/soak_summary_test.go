package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
)

// The soak's summary: what the driver's exit summary says (parsed back),
// what the host saw, the identities they must satisfy, and the report.

// soakProbe is what the guest helper saw of the driver process.
type soakProbe struct {
	fds, goroutines, threads, kworkers, nicRx int
	// stacks and kinds are the driver's goroutines, read right after each
	// count, folded by stack and by kind, each the floor over ten dumps.
	stacks, kinds goroutineStacks
}

// udpDrops is the drop count of the host's UDP socket bound to
// 127.0.0.1:port (/proc/net/udp): QEMU's end of the lab cable, where frames
// wait while the emulated NIC cannot take them, and overflow.
func udpDrops(port int) (uint64, error) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, err
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) > 12 && f[1] == want {
			return strconv.ParseUint(f[len(f)-1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no UDP socket on 127.0.0.1:%d in /proc/net/udp", port)
}

// soakSummary is what a soak did, on both sides.
type soakSummary struct {
	o                         soakOptions
	elapsed, paused, recovery time.Duration
	sent, recv, intact        uint64
	corrupt, dup              uint64
	sockDrops                 uint64 // QEMU's netdev socket on the host, /proc/net/udp
	flaps, stops, resets      int
	resetHow                  string
	nprobes                   int
	start, end                soakProbe
	p50, p99, max             time.Duration
	drv                       runSummary
}

// runSummary is the guest driver's exit summary (printSummary).
type runSummary struct {
	rx, processed, inFlight    uint64
	drops                      map[string]uint64 // by driver.DropReason name
	tx, txFull, txInvalid      uint64
	panics                     uint64
	linkUps, linkDowns, resets uint64
	nicRxGood, nicTxGood       uint64
	nicMissed, nicNoBuf        uint64
	accounted                  bool
}

var summaryRes = []struct {
	re   *regexp.Regexp
	into func(*runSummary) []*uint64
}{
	{regexp.MustCompile(`^rx +(\d+) frames, \d+ bytes .*; processed (\d+), in flight at close (\d+)`),
		func(r *runSummary) []*uint64 { return []*uint64{&r.rx, &r.processed, &r.inFlight} }},
	{regexp.MustCompile(`^tx +(\d+) frames, \d+ bytes; tx ring full (\d+); tx_invalid (\d+)`),
		func(r *runSummary) []*uint64 { return []*uint64{&r.tx, &r.txFull, &r.txInvalid} }},
	{regexp.MustCompile(`^irqs .*; handler panics (\d+)`),
		func(r *runSummary) []*uint64 { return []*uint64{&r.panics} }},
	{regexp.MustCompile(`^events +link ups (\d+), link downs (\d+); watchdog resets (\d+)`),
		func(r *runSummary) []*uint64 { return []*uint64{&r.linkUps, &r.linkDowns, &r.resets} }},
	{regexp.MustCompile(`^nic +rx_good (\d+) tx_good (\d+) missed (\d+) no_buf (\d+)`),
		func(r *runSummary) []*uint64 { return []*uint64{&r.nicRxGood, &r.nicTxGood, &r.nicMissed, &r.nicNoBuf} }},
}

// parseRunSummary reads the counters of uiodrv's exit summary.
func parseRunSummary(lines []string) (runSummary, error) {
	r := runSummary{drops: map[string]uint64{}}
	found := make([]bool, len(summaryRes))
	for _, l := range lines {
		for i, s := range summaryRes {
			m := s.re.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			for j, p := range s.into(&r) {
				*p, _ = strconv.ParseUint(m[j+1], 10, 64)
			}
			found[i] = true
		}
		if rest, ok := strings.CutPrefix(l, "drops     "); ok && rest != "0" {
			for _, kv := range strings.Split(rest, ",") {
				k, v, _ := strings.Cut(kv, "=")
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return r, fmt.Errorf("drops line %q", l)
				}
				r.drops[k] = n
			}
		}
		if l == "every frame accounted for" {
			r.accounted = true
		}
	}
	for i, ok := range found {
		if !ok {
			return r, fmt.Errorf("no line matching %s", summaryRes[i].re)
		}
	}
	return r, nil
}

// driverDrops is the sum of the port's drop counters (every DropReason).
func (r *runSummary) driverDrops() uint64 {
	var n uint64
	for _, d := range driver.DropReasons() {
		n += r.drops[d.String()]
	}
	return n
}

func (r *runSummary) dropList() string {
	var parts []string
	for _, d := range driver.DropReasons() {
		parts = append(parts, fmt.Sprintf("%s %d", d, r.drops[d.String()]))
	}
	return strings.Join(parts, ", ")
}

func ok(b bool) string {
	if b {
		return "OK"
	}
	return "MISMATCH"
}

// identities are the equalities a soak must end with. The NIC's missed
// count (MPC) is not a drop here: QEMU's e1000 counts MPC and RNBC when it
// finds the RX ring full, then holds the frame and delivers it once the
// driver refills (the first 30-minute soak counted 1812 and its NIC still
// took every frame that reached it). A frame is lost before the NIC only in
// QEMU's host socket (counted there) or uncounted.
func (s *soakSummary) identities() (reached, reflected, lost bool) {
	d := &s.drv
	reached = s.sent == d.nicRxGood+s.sockDrops && d.nicRxGood == d.rx && d.rx == d.processed+d.driverDrops()+d.inFlight
	reflected = s.intact == d.tx && d.tx == d.processed-d.txFull-d.txInvalid
	lost = s.sent-s.intact == s.sockDrops+d.driverDrops()+d.inFlight+d.txFull+d.txInvalid
	return
}

func (s *soakSummary) report() string {
	d := &s.drv
	reached, reflected, lost := s.identities()
	var b strings.Builder
	fmt.Fprintf(&b, "--- soak summary: %v (%s)\n", s.elapsed.Round(time.Second), s.o)
	fmt.Fprintf(&b, "host     sent %d, received %d, back intact %d, altered %d, duplicated %d, not back %d; QEMU socket drops %d; sender paused %v in all (around link-down and reset windows)\n",
		s.sent, s.recv, s.intact, s.corrupt, s.dup, s.sent-s.intact, s.sockDrops, s.paused.Round(time.Second))
	fmt.Fprintf(&b, "faults   link down/up (QMP set_link) %d; SIGSTOP/SIGCONT %d x %v; injected handler panics %d (every %d frames); resets under the driver %d, re-initialised by the watchdog %v after the reset was asked for (%s)\n",
		s.flaps, s.stops, s.o.stopFor, d.panics, s.o.panicEvery, s.resets, s.recovery.Round(time.Millisecond), s.resetHow)
	fmt.Fprintf(&b, "driver   rx %d, processed %d, in flight at close %d; drops: %s; nic rx_good %d, missed %d and no_buf %d (ring-full events; QEMU holds those frames)\n",
		d.rx, d.processed, d.inFlight, d.dropList(), d.nicRxGood, d.nicMissed, d.nicNoBuf)
	fmt.Fprintf(&b, "         tx %d (tx ring full %d, tx_invalid %d), nic tx_good %d; link ups %d, downs %d; watchdog resets %d\n",
		d.tx, d.txFull, d.txInvalid, d.nicTxGood, d.linkUps, d.linkDowns, d.resets)
	fmt.Fprintf(&b, "account  sent %d = nic rx_good %d + QEMU socket drops %d; rx_good = driver rx %d = processed %d + driver drops %d + in flight %d: %s\n",
		s.sent, d.nicRxGood, s.sockDrops, d.rx, d.processed, d.driverDrops(), d.inFlight, ok(reached))
	fmt.Fprintf(&b, "         back intact %d = tx %d = processed %d - tx ring full %d - tx_invalid %d: %s\n",
		s.intact, d.tx, d.processed, d.txFull, d.txInvalid, ok(reflected))
	fmt.Fprintf(&b, "         not back %d = QEMU socket drops %d + driver drops %d + in flight %d + tx ring full %d + tx_invalid %d: %s\n",
		s.sent-s.intact, s.sockDrops, d.driverDrops(), d.inFlight, d.txFull, d.txInvalid, ok(lost))
	fmt.Fprintf(&b, "leaks    driver open fds %d at start, %d at end; goroutines %d, %d, of which workqueue workers (kworker threads) %d, %d; threads %d, %d\n",
		s.start.fds, s.end.fds, s.start.goroutines, s.end.goroutines, s.start.kworkers, s.end.kworkers, s.start.threads, s.end.threads)
	fmt.Fprintf(&b, "         goroutines by kind (the function each started in), floor over ten dumps: other than workers %d at start, %d at end; workers %d, %d\n",
		s.start.kinds.others().total(), s.end.kinds.others().total(),
		s.start.kinds.total()-s.start.kinds.others().total(), s.end.kinds.total()-s.end.kinds.others().total())
	for _, l := range grown(s.start.kinds.others(), s.end.kinds.others()) {
		fmt.Fprintf(&b, "         grown: %s\n", l)
	}
	for _, l := range s.end.stacks.others().diff(s.start.stacks.others()) {
		fmt.Fprintf(&b, "         by stack (floor), start -> end: %s\n", l)
	}
	fmt.Fprintf(&b, "rtt      p50 %v p99 %v max %v\n", roundDur(s.p50), roundDur(s.p99), roundDur(s.max))
	return b.String()
}

// check lists what the soak must not end with.
func (s *soakSummary) check() []string {
	var errs []string
	e := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	d := &s.drv
	reached, reflected, lost := s.identities()
	if !reached || !reflected || !lost {
		e("accounting: frames lost without a counter saying why (see the summary)")
	}
	if s.corrupt != 0 || s.dup != 0 {
		e("%d frames came back altered, %d duplicated", s.corrupt, s.dup)
	}
	if !d.accounted {
		e("the driver's summary does not say every frame accounted for")
	}
	if d.inFlight != 0 {
		e("%d frames in flight at close", d.inFlight)
	}
	if want := (d.processed + d.drops[driver.DropPanic.String()]) / s.o.panicEvery; d.panics != want || want == 0 {
		e("handler panics %d, want %d (one per %d frames the handler saw, at least one)", d.panics, want, s.o.panicEvery)
	}
	if s.resets != 1 || d.resets != 1 {
		e("resets: %d injected, %d re-initialisations by the watchdog; want 1 and 1", s.resets, d.resets)
	}
	if s.flaps == 0 || d.linkDowns < uint64(s.flaps) || d.linkUps < uint64(s.flaps) {
		e("link: %d flaps, driver saw %d downs and %d ups", s.flaps, d.linkDowns, d.linkUps)
	}
	if s.stops == 0 {
		e("no SIGSTOP/SIGCONT happened")
	}
	// Goroutines are compared by stack, workqueue workers apart (deferral
	// starts one whenever work is queued and none is idle, up to
	// MaxWorkersPerPool per pool, and retires them after
	// IdleWorkerTimeout idle, so their number moves within that bound).
	// Each side is the floor over ten dumps, since some goroutines come and
	// go (the scrape's own connection reader), of goroutines by kind (the
	// function each started in: a goroutine's stack changes as it runs);
	// a kind whose floor grew is a leak. Counts alone moved by 1-3 between probes (10 to 13 goroutines
	// other than workers all through the earlier 30-minute runs).
	// Fds must be as at the start; threads are reported, not compared (the
	// Go runtime keeps the threads it once needed).
	if s.start.fds == 0 || s.start.fds != s.end.fds {
		e("leak check: driver open fds %d -> %d", s.start.fds, s.end.fds)
	}
	if len(s.start.kinds) == 0 || len(s.end.kinds) == 0 {
		e("leak check: no goroutine stacks read at the start or the end")
	}
	if g := grown(s.start.kinds.others(), s.end.kinds.others()); len(g) > 0 {
		e("leak check: goroutines other than workqueue workers grew (by the function each started in, floor over ten dumps, start -> end):\n%s", strings.Join(g, "\n"))
	}
	if s.end.kworkers > 2*deferral.MaxWorkersPerPool {
		e("%d workqueue workers at the end, more than the two pools' bound %d", s.end.kworkers, 2*deferral.MaxWorkersPerPool)
	}
	return errs
}
