package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
)

func TestPacer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := NewPacer(t0, 10000)
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{-time.Second, 0}, {0, 0}, {99 * time.Microsecond, 0}, {100 * time.Microsecond, 1}, {time.Millisecond, 10}, {time.Second, 10000}} {
		if got := p.Due(t0.Add(c.at)); got != c.want {
			t.Errorf("Due(+%v) = %d, want %d", c.at, got, c.want)
		}
	}
	if got := p.Next(25); got != t0.Add(2500*time.Microsecond) {
		t.Errorf("Next(25) = %v", got.Sub(t0))
	}
	// Due and Next agree: frame n is due exactly at Next(n).
	for n := range 1000 {
		if d := p.Due(p.Next(n)); d < n || d > n+1 {
			t.Fatalf("Due(Next(%d)) = %d", n, d)
		}
	}
}

func TestProtocol(t *testing.T) {
	dst := [6]byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	src := [6]byte{2, 0xaa, 0xbb, 0xcc, 0xdd, 1}
	buf := make([]byte, 2048)
	srv := &Server{CPU: func() (uint64, uint64) { return 7, 100 }}
	for i := range 3 {
		if srv.Serve(BuildFrame(buf, dst, src, OpCount, uint64(i))) {
			t.Fatal("count frame reflected")
		}
	}
	f := BuildFrame(buf, dst, src, OpReflect, 42)
	if !srv.Serve(f) {
		t.Fatal("reflect frame not reflected")
	}
	if op, seq, ok := ParseFrame(f); !ok || op != OpReflect || seq != 42 || !bytes.Equal(f[0:6], src[:]) || !bytes.Equal(f[6:12], dst[:]) {
		t.Fatalf("reflected frame: op %c seq %d ok %v % x", op, seq, ok, f[:12])
	}
	q := BuildFrame(buf, dst, src, OpQuery, 9)
	if !srv.Serve(q) {
		t.Fatal("query not answered")
	}
	if c := ParseCounters(q); c != (Counters{Count: 3, Reflect: 1, Busy: 7, Total: 100}) {
		t.Fatalf("counters %+v", c)
	}
	if srv.Done() {
		t.Fatal("done before OpDone")
	}
	if !srv.Serve(BuildFrame(buf, dst, src, OpDone, 1)) || !srv.Done() {
		t.Fatal("OpDone not served")
	}
	// Not ours: runts, other EtherTypes, unknown ops.
	ipv6 := BuildFrame(buf, dst, src, OpReflect, 1)
	ipv6[12], ipv6[13] = 0x86, 0xdd
	for _, f := range [][]byte{buf[:20], ipv6, BuildFrame(make([]byte, 128), dst, src, 'x', 0)} {
		if srv.Serve(f) {
			t.Errorf("served % x", f[:16])
		}
	}
}

func TestHandlerVerdicts(t *testing.T) {
	dst, src := [6]byte{1}, [6]byte{2}
	srv := &Server{}
	h := &Handler{Srv: srv}
	pkts := []driver.Packet{
		{Data: BuildFrame(make([]byte, 128), dst, src, OpCount, 0)},
		{Data: BuildFrame(make([]byte, 128), dst, src, OpReflect, 1)},
	}
	h.Handle(pkts)
	if pkts[0].Verdict != driver.Consume || pkts[1].Verdict != driver.Transmit {
		t.Fatalf("verdicts %v %v", pkts[0].Verdict, pkts[1].Verdict)
	}
	if allocs := testing.AllocsPerRun(100, func() { h.Handle(pkts[:1]) }); allocs != 0 {
		t.Errorf("Handle allocates %v per batch", allocs)
	}
}

func TestParseProcStat(t *testing.T) {
	b := []byte("cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	busy, total, ok := ParseProcStat(b)
	if !ok || busy != 100+5+50+3+2+10 || total != 990 {
		t.Fatalf("busy %d total %d ok %v", busy, total, ok)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4\n", "cpu 1 2 x 4 5\n"} {
		if _, _, ok := ParseProcStat([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

const goBenchOut = `goos: linux
pkg: github.com/uiodrv/uiodrv/ring
BenchmarkSPSC/single-2     	 4083220	       309.9 ns/op	       246.7 chan-ns/elem	         0.7962 x-vs-chan	       0 B/op	       0 allocs/op
BenchmarkSPSC/single-2     	 4083220	       300.1 ns/op	       240.0 chan-ns/elem	         0.8000 x-vs-chan	       0 B/op	       0 allocs/op
BenchmarkSPSC/single-2     	 4083220	       320.0 ns/op	       250.0 chan-ns/elem	         0.7800 x-vs-chan	       0 B/op	       0 allocs/op
BenchmarkLineRoundTrip
BenchmarkLineRoundTrip-2   	 1000000	      2874 ns/op	       0 B/op	       0 allocs/op
PASS
pkg: github.com/uiodrv/uiodrv/deferral
BenchmarkHandoff/busypoll-2        	       1	    113119 ns/op	       111.0 p50-ns	         0.02628 p50-x-chan
`

func TestParseGoBench(t *testing.T) {
	gs, err := ParseGoBench(strings.NewReader(goBenchOut))
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 3 {
		t.Fatalf("%d benchmarks", len(gs))
	}
	g := gs[0]
	if g.Pkg != "github.com/uiodrv/uiodrv/ring" || g.Name != "BenchmarkSPSC/single" || len(g.Runs) != 3 {
		t.Fatalf("%+v", g)
	}
	if m, _ := g.Median("ns/op"); m != 309.9 {
		t.Errorf("median %v", m)
	}
	if lo, hi := g.Spread("x-vs-chan"); lo != 0.78 || hi != 0.8 {
		t.Errorf("spread %v %v", lo, hi)
	}
	if _, ok := g.Median("nope"); ok {
		t.Error("median of a missing unit")
	}
	if gs[2].Pkg != "github.com/uiodrv/uiodrv/deferral" || gs[2].Units[1] != "p50-ns" {
		t.Errorf("%+v", gs[2])
	}
}

func TestTable(t *testing.T) {
	tb := &Table{Title: "T", Header: []string{"a", "b"}, Notes: []string{"n"}}
	tb.AddRow("x|y", 1.5)
	tb.AddRow("only")
	var b bytes.Buffer
	if err := tb.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	want := "### T\n\n| a | b |\n|---|---|\n| x\\|y | 1.5 |\n| only |  |\n\nn\n\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	if Ratio(3, 2) != "1.50x" || Ratio(1, 0) != "n/a" {
		t.Error("Ratio")
	}
	if Micros(1500) != "1.5 µs" || Micros(250_000) != "250 µs" || Micros(12_300_000) != "12.3 ms" {
		t.Errorf("Micros: %s %s %s", Micros(1500), Micros(250_000), Micros(12_300_000))
	}
}

func TestGuestPlanEnv(t *testing.T) {
	p := &GuestPlan{Backend: driver.BackendUIO, Targets: []Target{{BDF: "0000:00:03.0"}, {BDF: "0000:00:04.0", Kernel: true}},
		Modes: []deferral.Mode{deferral.ModeTasklet, deferral.ModeBusyPoll}, Profile: map[deferral.Mode]bool{deferral.ModeBusyPoll: true},
		RTTarget: "0000:00:03.0", RTModes: []deferral.Mode{deferral.ModeThreaded}, RTDuration: 2 * time.Second,
		RTWork: 150 * time.Microsecond, RTTaskWork: 100 * time.Microsecond, RTIRQPrio: 90, RTTaskPrio: 80}
	q, err := ParseGuestEnv(append([]string{"PATH=/bin"}, p.Env()...))
	if err != nil {
		t.Fatal(err)
	}
	if q.Backend != p.Backend || len(q.Targets) != 2 || !q.Targets[1].Kernel || len(q.Modes) != 2 || !q.Profile[deferral.ModeBusyPoll] ||
		q.Profile[deferral.ModeTasklet] || q.RTTarget != p.RTTarget || q.RTDuration != p.RTDuration || q.RTWork != p.RTWork ||
		q.RTTaskWork != p.RTTaskWork || q.RTIRQPrio != 90 || q.RTTaskPrio != 80 || len(q.RTModes) != 1 {
		t.Fatalf("round trip: %+v", q)
	}
	if _, err := ParseGuestEnv([]string{"BENCH_BACKEND=vfio", "BENCH_TARGETS=0000:00:03.0=dpdk"}); err == nil {
		t.Error("bad target kind accepted")
	}
}

func TestParseKV(t *testing.T) {
	m := ParseKV("RT RESULT 0000:00:03.0 tasklet jobs=5000 misses=12 p99=1234 name=x")
	if m["jobs"] != 5000 || m["misses"] != 12 || m["p99"] != 1234 || len(m) != 3 {
		t.Fatalf("%v", m)
	}
}

func TestMaxLossless(t *testing.T) {
	steps := []RateStep{{Rate: 1000, Sent: 500, Counted: 500}, {Rate: 5000, Sent: 2500, Counted: 2500}, {Rate: 10000, Sent: 5000, Counted: 4000}}
	if got := MaxLossless(steps); got != 5000 {
		t.Fatalf("MaxLossless = %v", got)
	}
}
