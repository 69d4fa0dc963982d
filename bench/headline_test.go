package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/deferral"
)

// reps builds repetitions with the given throughputs and p99s (ns), and
// CPU at the two rates.
func reps(tput, p99 []float64, mod, light float64) []Rep {
	var rs []Rep
	for i := range tput {
		rs = append(rs, Rep{Tput: tput[i], P99: p99[i], P50: p99[i] / 3, CPUMod: mod, CPULight: light})
	}
	return rs
}

func TestRatioOf(t *testing.T) {
	u := &TargetResult{Reps: reps([]float64{90, 100, 120}, []float64{1, 1, 1}, 0, 0)}
	k := &TargetResult{Reps: reps([]float64{20, 25, 30}, []float64{1, 1, 1}, 0, 0)}
	s := ratioOf(u, k, repTput)
	if !s.ok || s.med != 4 || s.lo != 3 || s.hi != 6 {
		t.Fatalf("ratio %+v: want 4 (3-6)", s)
	}
	if s.String() != "4.00x (3.00–6.00)" || s.atLeast(4.5) != "4.00x (3.00–6.00) ✘" || s.atMost(4) != "4.00x (3.00–6.00) ✔" {
		t.Errorf("rendered %q %q %q", s.String(), s.atLeast(4.5), s.atMost(4))
	}
	if ratioOf(u, &TargetResult{}, repTput).ok || ratioOf(nil, k, repTput).String() != "n/a" {
		t.Error("a ratio without a denominator")
	}
}

// TestHeadline renders the targets table from made-up repetitions and
// checks each target's cell: its ratio and whether it is marked met.
func TestHeadline(t *testing.T) {
	nic, kn := DefaultNICs[0], DefaultNICs[1]
	bp := &TargetResult{NIC: nic, Mode: "busypoll", Reps: reps([]float64{95, 100, 105}, []float64{20, 20, 25}, 1, 1),
		Guest: "BENCH DONE x busypoll tput_regs_pf=0.1500 tput_regs_pf_min=0.1400 tput_regs_pf_max=0.1600 tput_allocs_pf=0.00000 tput_allocs_pf_max=0.00000"}
	napi := &TargetResult{NIC: nic, Mode: "napi", Reps: reps([]float64{70, 80, 90}, []float64{60, 70, 80}, 0.5, 0.4),
		Guest: "BENCH DONE x napi tput_allocs_pf=0.00100 tput_allocs_pf_max=0.00200"}
	tasklet := &TargetResult{NIC: nic, Mode: "tasklet", Reps: reps([]float64{60, 60, 60}, []float64{50, 50, 50}, 0.5, 0.4)}
	ad := &TargetResult{NIC: nic, Mode: "adaptive", Reps: reps([]float64{90, 92, 94}, []float64{30, 30, 30}, 0.25, 0.2)}
	k := &TargetResult{NIC: kn, Mode: "kernel", Reps: reps([]float64{20, 20, 20}, []float64{100, 100, 100}, 0.8, 0.3)}
	for _, tg := range []*TargetResult{bp, napi, tasklet, ad, k} {
		tg.summarise()
	}
	r := &Report{Lab: &LabResult{Targets: []*TargetResult{tasklet, napi, bp, ad, k}},
		LabOpts: &LabOptions{Reps: 3, Window: 32, CPURate: 5000, CPULight: 1000, Profile: []deferral.Mode{deferral.ModeBusyPoll}}}
	var b bytes.Buffer
	r.writeSummary(&b)
	out := b.String()
	for _, want := range []string{
		"| busy-poll reflect throughput (32 in flight) vs kernel | ≥ 4.5x | 5.00x (4.75–5.25) ✔ |",
		"| busy-poll round-trip p99 vs kernel | ≤ 0.25x | 0.20x (0.20–0.25) ✔ |",
		"| best interrupt mode, reflect throughput vs kernel | ≥ 3.5x | napi: 4.00x (3.50–4.50) ✔ |",
		"| the same mode, round-trip p99 vs kernel | ≤ 0.7x | napi: 0.70x (0.60–0.80) ✔ |",
		"| adaptive reflect throughput vs busy poll | ≥ 0.9x | 0.92x (0.86–0.99) ✔ |",
		"| adaptive guest CPU at 1000 frames/s vs busy poll | ≤ 0.3x | 0.20x (0.20–0.20) ✔ |",
		"| adaptive guest CPU at 5000 frames/s vs busy poll | ≤ 0.3x | 0.25x (0.25–0.25) ✔ |",
		"| register accesses (traps) per reflected frame, busy poll, 32 in flight | ≤ 0.2 | 0.150 (0.140–0.160) ✔ |",
		"(guest process), the highest of any uiodrv mode | 0 | 0.00200 (napi) ✘ |",
		"| e1000 | adaptive | 4.60x (4.50–4.70) | 0.30x (0.30–0.30) |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("headline lacks %q:\n%s", want, out)
		}
	}
}

func TestSiteSummary(t *testing.T) {
	for in, want := range map[string]string{
		"n=3 site=runtime.acquireSudog:511<runtime.selectgo:318<deferral.(*irqThread).loop:61<deferral.startThread.func1:26<runtime.goexit:1771": "3× runtime.acquireSudog in deferral.(*irqThread).loop",
		"n=1 site=runtime.allocm:2324<runtime.newm:2870<runtime.startm:3096":                                                                     "1× runtime.allocm",
		"n=2 site=bench.allocSomething:84<bench.TestX:28":                                                                                        "2× bench.allocSomething",
		"n=1 site=runtime.malg:5274<…<bench.f:3":                                                                                                 "1× runtime.malg in bench.f",
	} {
		if got := siteSummary(in); got != want {
			t.Errorf("siteSummary(%q) = %q, want %q", in, got, want)
		}
	}
}
