package qemu

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/uiodrv/uiodrv/internal/testframe"
)

var (
	flowDst = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	flowSrc = [6]byte{0x02, 0x75, 0x69, 0x6f, 0x00, 0x01}
)

// TestFlowsDistinctTuples decodes every flow's frame with gopacket (an
// independent parser) and checks that N flows give N distinct 5-tuples,
// equal to Tuple(i), that testframe.Check accepts (the checksums are
// checked against gopacket in internal/testframe).
func TestFlowsDistinctTuples(t *testing.T) {
	for _, n := range []int{1, 64, 1000} {
		f, err := NewFlows(n, 128, flowDst, flowSrc)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[FiveTuple]int{}
		buf := make([]byte, 1514)
		for i := 0; i < n; i++ {
			frame, seq := f.Next(buf, i)
			if seq != 0 {
				t.Fatalf("flow %d: first seq %d", i, seq)
			}
			pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
			ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if ip == nil || udp == nil {
				t.Fatalf("flow %d: not UDP/IPv4: %v", i, pkt)
			}
			src, _ := netipFrom(ip.SrcIP)
			dst, _ := netipFrom(ip.DstIP)
			got := FiveTuple{Src: src, Dst: dst, SrcPort: uint16(udp.SrcPort), DstPort: uint16(udp.DstPort), Proto: uint8(ip.Protocol)}
			if got != f.Tuple(i) {
				t.Fatalf("flow %d: decoded %v, Tuple says %v", i, got, f.Tuple(i))
			}
			if j, dup := seen[got]; dup {
				t.Fatalf("flows %d and %d share the 5-tuple %v", j, i, got)
			}
			seen[got] = i
			if int(ip.Length) != len(frame)-14 || int(udp.Length) != len(frame)-34 {
				t.Fatalf("flow %d: lengths ip %d udp %d for a %d-byte frame", i, ip.Length, udp.Length, len(frame))
			}
			if _, ok, err := testframe.Check(frame); !ok || err != nil {
				t.Fatalf("flow %d: testframe.Check: %v %v", i, ok, err)
			}
		}
		if len(seen) != n {
			t.Fatalf("%d flows gave %d distinct 5-tuples", n, len(seen))
		}
	}
}

func TestFlowsAllTuplesDistinct(t *testing.T) {
	f, _ := NewFlows(MaxFlows, 64, flowDst, flowSrc)
	seen := make(map[FiveTuple]bool, MaxFlows)
	for i := 0; i < f.N(); i++ {
		seen[f.Tuple(i)] = true
	}
	if len(seen) != MaxFlows {
		t.Fatalf("%d flows, %d distinct 5-tuples", MaxFlows, len(seen))
	}
}

// TestFlowOrder sends 64 flows interleaved, reflects them (MACs swapped)
// and checks per-flow order: any interleaving of flows is fine, a swap
// within a flow is caught, loss is a gap and not a reorder.
func TestFlowOrder(t *testing.T) {
	const n, per = 64, 50
	f, err := NewFlows(n, 200, flowDst, flowSrc)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for k := 0; k < per; k++ {
		for i := 0; i < n; i++ {
			fl := (i*17 + k) % n // a different interleaving each round
			fr, _ := f.Next(make([]byte, 1514), fl)
			reflected := append([]byte(nil), fr...)
			copy(reflected[0:6], fr[6:12])
			copy(reflected[6:12], fr[0:6])
			frames = append(frames, reflected)
		}
	}
	for i := 0; i < n; i++ {
		if f.Sent(i) != per {
			t.Fatalf("flow %d: %d sent, want %d", i, f.Sent(i), per)
		}
	}
	check := func(frames [][]byte) *FlowOrder {
		o := NewFlowOrder(n)
		for _, fr := range frames {
			fl, seq, err := ParseFlowFrame(fr)
			if err != nil {
				t.Fatal(err)
			}
			o.Observe(fl, seq)
		}
		return o
	}
	if o := check(frames); o.Reordered != 0 || o.Missing(f) != 0 || o.Received != n*per {
		t.Fatalf("in order: %+v", o)
	}
	// Move one frame of a flow after a later frame of the same flow.
	swapped := append([][]byte(nil), frames...)
	fl0, _, _ := ParseFlowFrame(swapped[0])
	for j := 1; j < len(swapped); j++ {
		if fl, _, _ := ParseFlowFrame(swapped[j]); fl == fl0 {
			swapped[0], swapped[j] = swapped[j], swapped[0]
			break
		}
	}
	if o := check(swapped); o.Reordered != 1 {
		t.Fatalf("one swap within a flow: reordered %d, want 1", o.Reordered)
	}
	// Drop every 10th frame: gaps, no reordering.
	var lossy [][]byte
	for j, fr := range frames {
		if j%10 != 3 {
			lossy = append(lossy, fr)
		}
	}
	if o := check(lossy); o.Reordered != 0 || o.Missing(f) != uint64(len(frames)-len(lossy)) {
		t.Fatalf("loss: %+v, want 0 reordered and %d gaps", o, len(frames)-len(lossy))
	}
	// Interleaving across flows is free: reverse the flow order of a round.
	rev := append([][]byte(nil), frames...)
	for a, b := 0, n-1; a < b; a, b = a+1, b-1 {
		rev[a], rev[b] = rev[b], rev[a]
	}
	if o := check(rev); o.Reordered != 0 {
		t.Fatalf("reversed flows within one round: reordered %d", o.Reordered)
	}
}

func TestParseFlowFrameRejects(t *testing.T) {
	f, _ := NewFlows(8, 100, flowDst, flowSrc)
	fr, _ := f.Next(make([]byte, 1514), 5)
	if fl, seq, err := ParseFlowFrame(fr); err != nil || fl != 5 || seq != 0 {
		t.Fatalf("parse: %d %d %v", fl, seq, err)
	}
	for _, at := range []int{12, 20, 27, 37, 43, 50, 70, 99} {
		bad := append([]byte(nil), fr...)
		bad[at] ^= 0x10
		if _, _, err := ParseFlowFrame(bad); !errors.Is(err, ErrNotFlowFrame) {
			t.Errorf("byte %d altered: err %v", at, err)
		}
	}
	if _, _, err := ParseFlowFrame(fr[:50]); !errors.Is(err, ErrNotFlowFrame) {
		t.Error("truncated frame accepted")
	}
	if _, err := NewFlows(0, 100, flowDst, flowSrc); err == nil {
		t.Error("0 flows accepted")
	}
	if _, err := NewFlows(4, 40, flowDst, flowSrc); err == nil {
		t.Error("40-byte frames accepted")
	}
	if !bytes.Equal(fr[0:6], flowDst[:]) || !bytes.Equal(fr[6:12], flowSrc[:]) {
		t.Error("MACs")
	}
}

func TestFlowsNoAlloc(t *testing.T) {
	f, _ := NewFlows(64, 128, flowDst, flowSrc)
	buf := make([]byte, 1514)
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		fr, _ := f.Next(buf, i%64)
		_, _, _ = ParseFlowFrame(fr)
		i++
	}); a != 0 {
		t.Fatalf("%v allocations per frame", a)
	}
}

func netipFrom(ip net.IP) (a netip.Addr, ok bool) { return netip.AddrFromSlice(ip.To4()) }
