package bench

import (
	"encoding/binary"
	"slices"
	"testing"
)

// kernelReply is what the guest kernel sends back for a datagram of flow
// with payload p: the addresses and ports swapped, its own IPv4 id, DF and
// a UDP checksum, padded to Ethernet's minimum.
func kernelReply(flow int, p []byte) []byte {
	f := BuildFlowFrame(make([]byte, 2048), hostMAC, [6]byte{0x52, 0x54, 0, 0x12, 0x34, 0x57}, OpReflect, 0, flow)
	f = append(f[:42], p...)
	for len(f) < 60 {
		f = append(f, 0)
	}
	ip := f[14:34]
	src := [4]byte(ip[12:16])
	copy(ip[12:16], ip[16:20])
	copy(ip[16:20], src[:])
	binary.BigEndian.PutUint16(ip[4:], 0x1234) // the kernel's identification
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(p)))
	udp := f[34:42]
	sp, dp := binary.BigEndian.Uint16(udp[0:]), binary.BigEndian.Uint16(udp[2:])
	binary.BigEndian.PutUint16(udp[0:], dp)
	binary.BigEndian.PutUint16(udp[2:], sp)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(p)))
	binary.BigEndian.PutUint16(udp[6:], 0xbeef) // a checksum
	return f
}

func TestUDPReply(t *testing.T) {
	req := BuildFlowFrame(make([]byte, 2048), DstMAC, hostMAC, OpQuery, 7, 5)
	p := slices.Clone(req[42:])
	srv := &Server{CPU: func() (uint64, uint64) { return 3, 9 }}
	srv.ServePayload(BuildFlowFrame(make([]byte, 2048), DstMAC, hostMAC, OpReflect, 1, 5)[42:])
	if !srv.ServePayload(p) {
		t.Fatal("a query payload is not answered")
	}
	f := kernelReply(5, p)
	op, seq, ok := ParseFrame(f)
	if !ok || op != OpQuery || seq != 7 {
		t.Fatalf("ParseFrame of a kernel reply: %c %d %v", op, seq, ok)
	}
	if c := ParseCounters(f); c.Reflect != 1 || c.Busy != 3 || c.Total != 9 {
		t.Errorf("counters %+v", c)
	}
	if flow, ok := FlowOf(f); !ok || flow != 5 {
		t.Errorf("FlowOf: %d %v, want 5", flow, ok)
	}
	// Not a reply: the request itself (addresses not swapped), another
	// source port, a length past the frame.
	bad := kernelReply(5, p)
	binary.BigEndian.PutUint16(bad[34:], 53)
	long := kernelReply(5, p)
	binary.BigEndian.PutUint16(long[38:], 200)
	for name, g := range map[string][]byte{"other port": bad, "too long": long} {
		if _, _, ok := parseUDPReply(g); ok {
			t.Errorf("%s taken for a reply", name)
		}
	}
	if _, _, ok := parseUDPReply(req); ok {
		t.Error("a request taken for a reply")
	}
}

func TestKernelModesEnv(t *testing.T) {
	p := &GuestPlan{KernelModes: []string{KModeUDP, KModeUDPSuspend}}
	q, err := ParseGuestEnv(append(p.Env(), "BENCH_BACKEND=vfio"))
	if err != nil || !slices.Equal(q.KernelModes, p.KernelModes) {
		t.Fatalf("round trip: %v %v", q, err)
	}
	if _, err := ParseGuestEnv(append(p.Env(), "BENCH_BACKEND=vfio", "BENCH_KMODES=udp,xdp")); err == nil {
		t.Error("an unknown kernel mode accepted")
	}
}

func TestNetlinkEncoding(t *testing.T) {
	attrs := nlAttr(nil, netdevANapiID, binary.LittleEndian.AppendUint32(nil, 0x2001))
	attrs = nlAttr(attrs, ctrlAttrFamilyName, []byte("netdev\x00"))
	want := []byte{8, 0, 2, 0, 1, 0x20, 0, 0, 11, 0, 2, 0, 'n', 'e', 't', 'd', 'e', 'v', 0, 0}
	if !slices.Equal(attrs, want) {
		t.Fatalf("attributes % x, want % x", attrs, want)
	}
	m := genlMsg(0x1a, netdevCmdNapiSet, 2, attrs)
	if len(m) != 40 || binary.LittleEndian.Uint32(m) != 40 || binary.LittleEndian.Uint16(m[4:]) != 0x1a || m[16] != 14 || m[17] != 1 {
		t.Errorf("message % x", m)
	}
}
