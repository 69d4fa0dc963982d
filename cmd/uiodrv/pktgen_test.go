package main

import (
	"testing"

	"github.com/uiodrv/uiodrv/internal/testframe"
)

// TestPktgenFrames: pktgen's frames are test frames that testframe.Check
// takes intact, with the sequence number and send time given, cycling
// over pktgenFlows distinct flows; building one allocates nothing.
func TestPktgenFrames(t *testing.T) {
	dst, src := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, labMAC
	flows := map[int]bool{}
	for _, size := range []int{60, 100, 1514} {
		buf := make([]byte, size)
		for seq := uint64(0); seq < 2*pktgenFlows; seq++ {
			f := pktgenFrame(buf, dst, src, seq, int64(seq)*1000+7)
			fr, ok, err := testframe.Check(f)
			if !ok || err != nil || fr.Seq != seq || fr.Stamp != int64(seq)*1000+7 || fr.Len != size || fr.Dst != dst || fr.Src != src {
				t.Fatalf("size %d seq %d: %+v ok %v err %v", size, seq, fr, ok, err)
			}
			flows[fr.Flow] = true
		}
	}
	if len(flows) != pktgenFlows {
		t.Fatalf("%d flows, want %d", len(flows), pktgenFlows)
	}
	buf := make([]byte, 100)
	seq := uint64(0)
	if a := testing.AllocsPerRun(100, func() { pktgenFrame(buf, dst, src, seq, 1); seq++ }); a != 0 {
		t.Fatalf("pktgenFrame allocates %v", a)
	}
}
