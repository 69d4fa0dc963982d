package driver

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// The verification vectors of Microsoft's RSS specification ("Verifying the
// RSS Hash Calculation"), IPv4, with the default key.
var rssVectors = []struct {
	src, dst         string
	sport, dport     uint16
	ipOnly, withPort uint32
}{
	{"66.9.149.187", "161.142.100.80", 2794, 1766, 0x323e8fc2, 0x51ccc178},
	{"199.92.111.2", "65.69.140.83", 14230, 4739, 0xd718262a, 0xc626b0ea},
	{"24.19.198.95", "12.22.207.184", 12898, 38024, 0xd2d0a5de, 0x5c2b394a},
	{"38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xafc7327f},
	{"153.39.163.191", "202.188.127.2", 44251, 1303, 0x5d1809c5, 0x10e828a2},
}

func TestToeplitzVerificationVectors(t *testing.T) {
	for _, v := range rssVectors {
		src, dst := netip.MustParseAddr(v.src).As4(), netip.MustParseAddr(v.dst).As4()
		in := append(append([]byte{}, src[:]...), dst[:]...)
		if got := Toeplitz(DefaultRSSKey[:], in); got != v.ipOnly {
			t.Errorf("%s -> %s addresses: %#08x, want %#08x", v.src, v.dst, got, v.ipOnly)
		}
		in = binary.BigEndian.AppendUint16(in, v.sport)
		in = binary.BigEndian.AppendUint16(in, v.dport)
		if got := Toeplitz(DefaultRSSKey[:], in); got != v.withPort {
			t.Errorf("%s:%d -> %s:%d: %#08x, want %#08x", v.src, v.sport, v.dst, v.dport, got, v.withPort)
		}
	}
}

// ipFrame builds an Ethernet/IPv4/UDP frame (proto 17) or TCP (6).
func ipFrame(proto byte, src, dst string, sport, dport uint16, frag uint16) []byte {
	f := make([]byte, 14+20+8+8)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[6:], frag)
	ip[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], dport)
	return f
}

func TestRSSHashFrames(t *testing.T) {
	r, err := NewRSS(2)
	if err != nil {
		t.Fatal(err)
	}
	v := rssVectors[0]
	for _, tc := range []struct {
		name  string
		frame []byte
		want  uint32
		ok    bool
	}{
		{"tcp", ipFrame(6, v.src, v.dst, v.sport, v.dport, 0), v.withPort, true},
		{"udp", ipFrame(17, v.src, v.dst, v.sport, v.dport, 0), v.withPort, true},
		{"icmp: addresses only", ipFrame(1, v.src, v.dst, v.sport, v.dport, 0), v.ipOnly, true},
		{"fragment: addresses only", ipFrame(17, v.src, v.dst, v.sport, v.dport, 0x2000), v.ipOnly, true},
		{"arp", append(make([]byte, 12), 0x08, 0x06, 0, 0), 0, false},
		{"runt", []byte{1, 2, 3}, 0, false},
	} {
		got, ok := r.Hash(tc.frame)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Hash = %#08x, %v; want %#08x, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// Every queue gets flows, and a flow always gets one queue.
func TestRSSSpreadsAndKeepsFlows(t *testing.T) {
	for _, queues := range []int{1, 2, 4} {
		r, err := NewRSS(queues)
		if err != nil {
			t.Fatal(err)
		}
		count := make([]int, queues)
		for flow := 0; flow < 256; flow++ {
			f := ipFrame(17, "10.0.0.1", "10.0.0.2", uint16(40000+flow), 9, 0)
			q := r.Queue(f)
			for i := 0; i < 3; i++ {
				if q2 := r.Queue(f); q2 != q {
					t.Fatalf("flow %d: queue %d then %d", flow, q, q2)
				}
			}
			count[q]++
		}
		for q, n := range count {
			if n < 256/queues/2 {
				t.Errorf("%d queues: queue %d got %d of 256 flows: %v", queues, q, n, count)
			}
		}
	}
	if _, err := NewRSS(0); err == nil {
		t.Error("NewRSS(0) accepted")
	}
}

func TestRSSAllocatesNothing(t *testing.T) {
	r, _ := NewRSS(4)
	f := ipFrame(17, "10.0.0.1", "10.0.0.2", 1, 2, 0)
	if n := testing.AllocsPerRun(100, func() { r.Queue(f) }); n != 0 {
		t.Fatalf("%v allocations per hash", n)
	}
}
