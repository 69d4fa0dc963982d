package testframe

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	dstMAC = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	srcMAC = [6]byte{0x02, 0x75, 0x69, 0x6f, 0x00, 0x01}
)

// TestBuildDecodes decodes frames with gopacket (an independent parser):
// UDP/IPv4 with the flow's 5-tuple, lengths right, both checksums valid.
func TestBuildDecodes(t *testing.T) {
	buf := make([]byte, MaxLen)
	for _, fr := range []Frame{
		{Flow: 0, Seq: 0, Len: MinLen},
		{Flow: 1, Seq: 1, Stamp: 123456789, Len: 61},
		{Flow: 300, Seq: 1 << 40, Stamp: -1, Len: 1000},
		{Flow: MaxFlows - 1, Seq: ^uint64(0), Len: MaxLen},
	} {
		fr.Dst, fr.Src = dstMAC, srcMAC
		f := Build(buf, fr)
		if len(f) != fr.Len || !bytes.Equal(f[0:6], dstMAC[:]) || !bytes.Equal(f[6:12], srcMAC[:]) {
			t.Fatalf("%+v: %d bytes, MACs % x", fr, len(f), f[:12])
		}
		pkt := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if ip == nil || udp == nil || pkt.ErrorLayer() != nil {
			t.Fatalf("%+v: not UDP/IPv4: %v", fr, pkt)
		}
		src, dst, sport, dport := Tuple(fr.Flow)
		if netip.AddrFrom4(src) != addr(ip.SrcIP) || netip.AddrFrom4(dst) != addr(ip.DstIP) ||
			uint16(udp.SrcPort) != sport || uint16(udp.DstPort) != dport {
			t.Fatalf("flow %d: decoded %v:%d > %v:%d", fr.Flow, ip.SrcIP, udp.SrcPort, ip.DstIP, udp.DstPort)
		}
		if int(ip.Length) != fr.Len-14 || int(udp.Length) != fr.Len-34 {
			t.Fatalf("%+v: lengths ip %d udp %d", fr, ip.Length, udp.Length)
		}
		if fold(sum(0, f[14:34])) != 0xffff {
			t.Fatalf("%+v: IPv4 header checksum does not verify", fr)
		}
		// gopacket recomputes the UDP checksum when serialising.
		sb := gopacket.NewSerializeBuffer()
		_ = udp.SetNetworkLayerForChecksum(ip)
		c := udp.Checksum
		if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{ComputeChecksums: true}, udp, gopacket.Payload(udp.Payload)); err != nil {
			t.Fatal(err)
		}
		if got := uint16(sb.Bytes()[6])<<8 | uint16(sb.Bytes()[7]); got != c {
			t.Fatalf("%+v: UDP checksum %#x, gopacket computes %#x", fr, c, got)
		}
		got, ok, err := Check(f)
		if !ok || err != nil || got != fr {
			t.Fatalf("Check = %+v, %v, %v; want %+v", got, ok, err, fr)
		}
	}
}

func addr(b net.IP) netip.Addr { a, _ := netip.AddrFromSlice(b.To4()); return a }

func TestTuplesDistinct(t *testing.T) {
	type tuple struct {
		src, dst     [4]byte
		sport, dport uint16
	}
	seen := make(map[tuple]bool, MaxFlows)
	for i := 0; i < MaxFlows; i++ {
		s, d, sp, dp := Tuple(i)
		seen[tuple{s, d, sp, dp}] = true
	}
	if len(seen) != MaxFlows {
		t.Fatalf("%d flows, %d distinct 5-tuples", MaxFlows, len(seen))
	}
}

// TestCheckCatchesEveryByte flips each byte after the MACs, one at a time,
// and each bit of a few: Check must say altered (or, for the bytes Is looks
// at, not a test frame), never intact.
func TestCheckCatchesEveryByte(t *testing.T) {
	for _, n := range []int{MinLen, 61, 200} {
		f := Build(make([]byte, n), Frame{Dst: dstMAC, Src: srcMAC, Flow: 7, Seq: 99, Stamp: 5, Len: n})
		for j := 12; j < n; j++ {
			for _, bit := range []byte{0x01, 0x80, 0xff} {
				g := bytes.Clone(f)
				g[j] ^= bit
				fr, ok, err := Check(g)
				if ok && err == nil {
					t.Fatalf("%d bytes: byte %d ^ %#x passed as %+v", n, j, bit, fr)
				}
				if ok && !errors.Is(err, ErrAltered) {
					t.Fatalf("byte %d: err %v does not wrap ErrAltered", j, err)
				}
			}
		}
		// MACs are the reflector's: swapping them is no alteration.
		g := bytes.Clone(f)
		copy(g[0:6], f[6:12])
		copy(g[6:12], f[0:6])
		if fr, ok, err := Check(g); !ok || err != nil || fr.Src != dstMAC || fr.Dst != srcMAC {
			t.Fatalf("MACs swapped: %+v %v %v", fr, ok, err)
		}
	}
}

// TestCheckFlippedPayloadByte: one flipped payload byte is reported with its
// offset.
func TestCheckFlippedPayloadByte(t *testing.T) {
	f := Build(make([]byte, 128), Frame{Flow: 3, Seq: 1000, Len: 128})
	f[100] ^= 0x04
	_, ok, err := Check(f)
	if !ok || !errors.Is(err, ErrAltered) || !bytes.Contains([]byte(err.Error()), []byte("byte 100 ")) {
		t.Fatalf("ok %v, err %v; want altered at byte 100", ok, err)
	}
}

// TestCheckOtherFrames: another frame's payload, truncation, padding, and
// frames that are not test frames.
func TestCheckOtherFrames(t *testing.T) {
	a := Build(make([]byte, 100), Frame{Flow: 1, Seq: 1, Len: 100})
	b := Build(make([]byte, 100), Frame{Flow: 1, Seq: 2, Len: 100})
	mixed := bytes.Clone(a)
	copy(mixed[MinLen:], b[MinLen:])
	hdrs := PutHeaders(make([]byte, 88), dstMAC, srcMAC, 1, 88)
	for name, tc := range map[string]struct {
		f       []byte
		ok, bad bool
	}{
		"another frame's payload": {mixed, true, true},
		"truncated":               {a[:80], true, true},
		"truncated below MinLen":  {a[:50], true, true},
		"padded":                  {append(bytes.Clone(a), 0), true, true},
		"runt":                    {a[:20], false, false},
		"headers only":            {hdrs, false, false},
		"empty":                   {nil, false, false},
	} {
		_, ok, err := Check(tc.f)
		if ok != tc.ok || (err != nil) != tc.bad {
			t.Errorf("%s: ok %v err %v; want ok %v, error %v", name, ok, err, tc.ok, tc.bad)
		}
	}
}

func TestHeaders(t *testing.T) {
	for _, flow := range []int{0, 5, 64511, 64512, MaxFlows - 1} {
		f := PutHeaders(make([]byte, 128), dstMAC, srcMAC, flow, 88)
		fl, p, ok := ParseHeaders(f)
		if !ok || fl != flow || len(p) != 88-HeaderLen {
			t.Fatalf("flow %d: ParseHeaders = %d, %d bytes, %v", flow, fl, len(p), ok)
		}
		if Is(f) {
			t.Fatalf("flow %d: Is took a headers-only frame", flow)
		}
		for j := 12; j < HeaderLen; j++ {
			g := bytes.Clone(f)
			g[j] ^= 0x10
			if _, _, ok := ParseHeaders(g); ok {
				t.Fatalf("flow %d: header byte %d altered, still parsed", flow, j)
			}
		}
	}
	if _, _, ok := ParseHeaders(Build(make([]byte, 88), Frame{Len: 88})); ok {
		t.Fatal("ParseHeaders took a test frame (UDP checksum set)")
	}
}

func TestBuildPanics(t *testing.T) {
	for _, fr := range []Frame{{Len: MinLen - 1}, {Len: MaxLen + 1}, {Len: 100, Flow: -1}, {Len: 100, Flow: MaxFlows}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Build(%+v) did not panic", fr)
				}
			}()
			Build(make([]byte, 2000), fr)
		}()
	}
}

func TestNoAlloc(t *testing.T) {
	buf := make([]byte, MaxLen)
	hb := make([]byte, 128)
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		f := Build(buf, Frame{Dst: dstMAC, Src: srcMAC, Flow: i % 64, Seq: uint64(i), Stamp: int64(i), Len: MinLen + i%1000})
		if _, ok, err := Check(f); !ok || err != nil {
			panic(err)
		}
		h := PutHeaders(hb, dstMAC, srcMAC, i%64, 88)
		if _, _, ok := ParseHeaders(h); !ok || !Is(f) {
			panic("headers")
		}
		i++
	}); a != 0 {
		t.Fatalf("%v allocations per frame", a)
	}
}

// FuzzCheck: Check never panics, and whatever it accepts is exactly the
// frame Build makes from what it returned.
func FuzzCheck(f *testing.F) {
	f.Add(Build(make([]byte, 100), Frame{Flow: 2, Seq: 3, Len: 100}))
	f.Add(Build(make([]byte, MinLen), Frame{Flow: 9, Seq: 1, Stamp: 77, Len: MinLen}))
	f.Add(PutHeaders(make([]byte, 88), dstMAC, srcMAC, 1, 88))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, ok, err := Check(b)
		if ok && err == nil {
			if w := Build(make([]byte, MaxLen), fr); !bytes.Equal(w, b) {
				t.Fatalf("accepted % x, Build gives % x", b, w)
			}
		}
		if fl, p, ok := ParseHeaders(b); ok {
			if w := PutHeaders(make([]byte, MaxLen), fr.Dst, fr.Src, fl, len(b)); !bytes.Equal(w[12:HeaderLen], b[12:HeaderLen]) || len(p) != len(b)-HeaderLen {
				t.Fatalf("ParseHeaders accepted % x", b)
			}
		}
	})
}

func BenchmarkBuildCheck(b *testing.B) {
	buf := make([]byte, MaxLen)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := Build(buf, Frame{Flow: i & 63, Seq: uint64(i), Len: 128})
		if _, ok, err := Check(f); !ok || err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleBuild() {
	buf := make([]byte, MaxLen)
	f := Build(buf, Frame{Dst: dstMAC, Src: srcMAC, Flow: 3, Seq: 42, Len: 128})
	f[100] ^= 1 // the wire flips a bit
	_, ok, err := Check(f)
	fmt.Println(ok, err)
	// Output: true test frame altered: flow 3 seq 42 (128 bytes): byte 100 is 0x68, want 0x69
}
