package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/handler"
)

// recorder is a handler that records how many frames reached it.
type recorder struct{ frames int }

func (r *recorder) Handle(p []driver.Packet) { r.frames += len(p) }

// TestPanicInjector: --fault-panic-every N panics once per N frames, on the
// batch that crosses the multiple, ahead of every other handler (so a
// panicking batch is reflected by no one), and is absent when N is 0.
func TestPanicInjector(t *testing.T) {
	rec := &recorder{}
	base := handler.Chain{rec}
	if got := (&faultFlags{}).wrap(base); len(got) != 1 {
		t.Fatalf("--fault-panic-every 0 changed the chain: %d handlers", len(got))
	}
	chain := (&faultFlags{panicEvery: 100}).wrap(base)
	batch := make([]driver.Packet, 64)
	panics, dropped, total := 0, 0, 0
	for _, n := range []int{1, 7, 64, 33, 64, 64, 2, 64, 50, 64, 64, 64, 64, 64, 17, 64, 64, 64, 64, 64} {
		total += n
		func() {
			defer func() {
				if r := recover(); r != nil {
					panics++
					dropped += n
					if !strings.Contains(r.(string), "--fault-panic-every 100") {
						t.Errorf("panic value %q does not name the flag", r)
					}
				}
			}()
			chain.Handle(batch[:n])
		}()
	}
	if want := total / 100; panics != want {
		t.Errorf("%d frames: %d panics, want %d", total, panics, want)
	}
	if rec.frames != total-dropped {
		t.Errorf("the next handler saw %d frames, want %d (panicking batches must not reach it)", rec.frames, total-dropped)
	}
}

// TestFaultFlags: the flag is listed in --help and an out-of-range value is a
// usage error before anything is opened.
func TestFaultFlags(t *testing.T) {
	code, out, _ := runCLI("run", "--help")
	if code != 0 || !strings.Contains(out, "--fault-panic-every") {
		t.Errorf("run --help (exit %d) does not list --fault-panic-every", code)
	}
	code, _, errOut := runCLI("--dev", "0000:00:03.0", "--fault-panic-every", "999999999999999999")
	if code != 2 || !strings.Contains(errOut, "--fault-panic-every 999999999999999999") {
		t.Errorf("exit %d, %q; want 2 naming --fault-panic-every", code, errOut)
	}
}

// TestSummaryEvents: the exit summary shows link events and watchdog resets,
// in the form the soak reads back (parseRunSummary).
func TestSummaryEvents(t *testing.T) {
	s := driver.Stats{RxPackets: 1000, Processed: 936, TxPackets: 930, TxDropped: 4, TxInvalid: 2, Panics: 1,
		LinkUps: 3, LinkDowns: 2, Resets: 1}
	s.Drops[driver.DropPanic] = 64
	s.HW.RxPackets, s.HW.TxPackets, s.HW.RxMissed, s.HW.RxNoBuffer = 1000, 930, 5, 6
	f := &runFlags{addr: bus.MustParseAddr("0000:00:03.0"), handler: "reflect"}
	var b bytes.Buffer
	printSummary(&b, f, &s, nil, [12]uint64{}, nil, time.Second, "signal")
	if !strings.Contains(b.String(), "events    link ups 3, link downs 2; watchdog resets 1\n") {
		t.Errorf("summary lacks the events line:\n%s", b.String())
	}
	r, err := parseRunSummary(strings.Split(b.String(), "\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := runSummary{rx: 1000, processed: 936, tx: 930, txFull: 4, txInvalid: 2, panics: 1, linkUps: 3, linkDowns: 2, resets: 1,
		nicRxGood: 1000, nicTxGood: 930, nicMissed: 5, nicNoBuf: 6, accounted: true,
		drops: map[string]uint64{"handler_panic": 64, "nic_missed": 5, "tx_full": 4}}
	if !reflect.DeepEqual(r, want) || r.driverDrops() != 64 {
		t.Errorf("parsed %+v\nwant   %+v with handler_panic 64", r, want)
	}
}

// TestMetricsRuntime: the metrics endpoint serves the Go runtime's and the
// process's metrics (the soak's leak check reads go_goroutines) and the
// port's event counters.
func TestMetricsRuntime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &driver.Stats{LinkUps: 3, LinkDowns: 2, Resets: 1, TxInvalid: 7}
	srv := serveMetrics(ln, "0000:00:03.0", "workqueue", func() *driver.Stats { return s }, zap.NewNop())
	defer srv.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"\ngo_goroutines ", "\nprocess_open_fds ",
		`uiodrv_resets_total{dev="0000:00:03.0",mode="workqueue"} 1`,
		`uiodrv_link_downs_total{dev="0000:00:03.0",mode="workqueue"} 2`,
		`uiodrv_link_ups_total{dev="0000:00:03.0",mode="workqueue"} 3`,
		`uiodrv_tx_invalid_total{dev="0000:00:03.0",mode="workqueue"} 7`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
