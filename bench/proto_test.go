package bench

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/uiodrv/uiodrv/internal/testframe"
)

func TestFlowFrames(t *testing.T) {
	dst, src := [6]byte{2, 0, 0, 0, 0, 2}, [6]byte{2, 0, 0, 0, 0, 1}
	srv := &Server{CPU: func() (uint64, uint64) { return 7, 9 }}
	buf := make([]byte, 128)
	seen := map[[2]uint16]bool{} // (source address low half, source port)
	for flow := range BenchFlows {
		f := BuildFlowFrame(buf, dst, src, OpCount, uint64(flow), flow)
		if len(f) != ReflectLen {
			t.Fatalf("count frame: %d bytes, want %d", len(f), ReflectLen)
		}
		if fl, ok := FlowOf(f); !ok || fl != flow {
			t.Fatalf("FlowOf = %d, %v; want %d", fl, ok, flow)
		}
		seen[[2]uint16{uint16(f[28])<<8 | uint16(f[29]), uint16(f[34])<<8 | uint16(f[35])}] = true
		if srv.Serve(f) {
			t.Fatal("a count frame was reflected")
		}
	}
	if len(seen) != BenchFlows {
		t.Fatalf("%d distinct source address and port pairs over %d flows", len(seen), BenchFlows)
	}
	f := BuildFlowFrame(buf, dst, src, OpReflect, 42, 5)
	hdr := bytes.Clone(f[12:42])
	if !srv.Serve(f) {
		t.Fatal("a reflect flow frame was not reflected")
	}
	if op, seq, ok := ParseFrame(f); !ok || op != OpReflect || seq != 42 || !bytes.Equal(f[0:6], src[:]) || !bytes.Equal(f[6:12], dst[:]) || !bytes.Equal(f[12:42], hdr) {
		t.Fatalf("reflected flow frame: op %c seq %d ok %v, % x", op, seq, ok, f)
	}
	q := BuildFlowFrame(buf, dst, src, OpQuery, 3, 9)
	if len(q) != QueryLen {
		t.Fatalf("query: %d bytes, want %d", len(q), QueryLen)
	}
	if !srv.Serve(q) {
		t.Fatal("query not answered")
	}
	if c := ParseCounters(q); c != (Counters{Count: BenchFlows, Reflect: 1, Busy: 7, Total: 9}) {
		t.Fatalf("counters %+v", c)
	}
	// Any header byte altered (an IPv4 frame of someone else's) is not ours.
	for _, i := range []int{12, 14, 17, 23, 24, 26, 30, 34, 36, 39} {
		g := BuildFlowFrame(make([]byte, 128), dst, src, OpReflect, 1, 3)
		g[i] ^= 0x10
		if _, _, ok := ParseFrame(g); ok {
			t.Errorf("byte %d altered: still parsed", i)
		}
		if srv.Serve(g) {
			t.Errorf("byte %d altered: reflected", i)
		}
	}
	if _, _, ok := ParseFrame(BuildFlowFrame(buf, dst, src, OpReflect, 1, 3)[:ReflectLen-1]); ok {
		t.Error("a short frame parsed")
	}
	// A query too short for the counters is not answered (nor written past
	// its end).
	short := BuildFlowFrame(make([]byte, 128), dst, src, OpReflect, 1, 3)
	short[testframe.HeaderLen+offOp] = OpQuery
	if srv.Serve(short) || srv.Serve(short[:ReflectLen]) {
		t.Error("a 60-byte query was answered")
	}
	// BuildFrame is flow 0.
	if fl, ok := FlowOf(BuildFrame(buf, dst, src, OpReflect, 1)); !ok || fl != 0 {
		t.Errorf("BuildFrame: flow %d, %v", fl, ok)
	}
	// Test frames (testframe.Build: same headers, UDP checksum set) are not
	// bench frames.
	tf := testframe.Build(make([]byte, 128), testframe.Frame{Len: ReflectLen})
	tf[testframe.HeaderLen] = OpReflect
	if srv.Serve(tf) {
		t.Error("a test frame was served")
	}
}

// TestFrameLayout pins the wire format bench/README.md documents: the
// op at 42, the sequence number at 44, the counters at 52..84, every frame
// UDP/IPv4 with the flow's 5-tuple, and Serve allocation-free.
func TestFrameLayout(t *testing.T) {
	buf := make([]byte, 128)
	f := BuildFlowFrame(buf, DstMAC, [6]byte{2}, OpReflect, 0x0102030405060708, 7)
	want := []byte{OpReflect, 0, 1, 2, 3, 4, 5, 6, 7, 8}
	if !bytes.Equal(f[42:52], want) || !bytes.Equal(f[52:60], make([]byte, 8)) {
		t.Fatalf("payload % x", f[42:])
	}
	src, _, sport, dport := testframe.Tuple(7)
	if f[12] != 0x08 || f[13] != 0 || !bytes.Equal(f[26:30], src[:]) || f[34] != byte(sport>>8) || f[35] != byte(sport) ||
		f[36] != byte(dport>>8) || f[37] != byte(dport) || f[40] != 0 || f[41] != 0 {
		t.Fatalf("headers % x", f[:42])
	}
	srv := &Server{CPU: func() (uint64, uint64) { return 0x11, 0x22 }}
	q := BuildFrame(make([]byte, 128), DstMAC, [6]byte{2}, OpQuery, 1)
	srv.Serve(f)
	srv.Serve(q)
	if q[67] != 1 || q[75] != 0x11 || q[83] != 0x22 {
		t.Fatalf("query reply % x", q[42:])
	}
	r := BuildFrame(make([]byte, 128), DstMAC, [6]byte{2}, OpReflect, 1)
	if a := testing.AllocsPerRun(100, func() { srv.Serve(r); srv.Serve(q) }); a != 0 {
		t.Fatalf("Serve allocates %v", a)
	}
}

func TestTargetEncoding(t *testing.T) {
	p := &GuestPlan{Targets: []Target{
		{BDF: "0000:00:03.0"},
		{BDF: "0000:00:04.0", Kernel: true},
		{BDF: "0000:00:08.0", Model: "igb", Queues: 2, Flows: true},
		{BDF: "0000:00:09.0", Kernel: true, Model: "igb", Queues: 1, Flows: true},
	}}
	got, err := ParseGuestEnv(p.Env())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Targets, p.Targets) {
		t.Fatalf("targets %+v, want %+v", got.Targets, p.Targets)
	}
	for _, bad := range []string{"x=igb", "x=uiodrv:igb:2", "x=uiodrv:igb:two:true", "x=kernel:igb:1:maybe"} {
		if _, err := ParseGuestEnv([]string{"BENCH_BACKEND=vfio", "BENCH_TARGETS=" + bad}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	for _, n := range IGBNICs {
		tg := n.target()
		if tg.Model != "igb" || !tg.Flows || tg.Queues < 1 || tg.Kernel != n.Kernel {
			t.Errorf("%s: target %+v", n.Addr, tg)
		}
	}
	if tg := DefaultNICs[0].target(); tg.Model != "" || tg.Flows {
		t.Errorf("e1000 target %+v", tg)
	}
}

func TestGroups(t *testing.T) {
	one, two, k := IGBNICs[0], IGBNICs[1], IGBNICs[2]
	if one.Name() != "igb" || two.Name() != "igb 2q" || k.Name() != "igb" {
		t.Fatalf("names %q %q %q", one.Name(), two.Name(), k.Name())
	}
	r := &Report{Lab: &LabResult{Targets: []*TargetResult{
		{NIC: one, Mode: "napi"}, {NIC: two, Mode: "napi"}, {NIC: k, Mode: "kernel"},
		{NIC: DefaultNICs[1], Mode: "kernel"},
	}}}
	if ms := r.models(); !reflect.DeepEqual(ms, []string{"igb", "igb 2q", "e1000"}) {
		t.Fatalf("groups %q", ms)
	}
	if r.target("igb 2q", "kernel") != r.Lab.Targets[2] || r.target("igb 2q", "napi") != r.Lab.Targets[1] ||
		r.target("igb", "napi") != r.Lab.Targets[0] || r.target("e1000", "kernel") != r.Lab.Targets[3] {
		t.Fatal("group lookups")
	}
	if r.target("e1000", "napi") != nil || inGroup(r.Lab.Targets[3], "igb 2q") {
		t.Fatal("a kernel e1000 joined an igb group")
	}
}
