package handler

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/uiodrv/uiodrv/driver"
)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func udpFrame(t testing.TB) []byte {
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 2}, DstMAC: []byte{2, 0, 0, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 1, DstPort: 2}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, eth, ip, udp, gopacket.Payload([]byte("hello")))
}

func arpFrame(t testing.TB) []byte {
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 2}, DstMAC: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: 1, SourceHwAddress: []byte{2, 0, 0, 0, 0, 2}, SourceProtAddress: []byte{10, 0, 0, 1},
		DstHwAddress: []byte{0, 0, 0, 0, 0, 0}, DstProtAddress: []byte{10, 0, 0, 2}}
	return serialize(t, eth, arp)
}

// craftedARP has hardware/protocol address sizes that claim more bytes than
// the frame holds: google/gopacket v1.1.19 panicked on this.
func craftedARP(t testing.TB) []byte {
	f := arpFrame(t)
	f[14+4] = 0xff // HwAddressSize
	f[14+5] = 0xff // ProtAddressSize
	return f[:14+8+4]
}

func TestCountMalformed(t *testing.T) {
	c := NewCount()
	udp := udpFrame(t)
	truncIP := udp[:14+10] // IPv4 header cut short
	badIHL := append([]byte(nil), udp...)
	badIHL[14] = 0x4f // IHL 15 words: longer than the packet
	oversize := make([]byte, 2000)
	copy(oversize, udp)
	longIP := append([]byte(nil), udp...)
	binary.BigEndian.PutUint16(longIP[14+2:], 1500) // IPv4 total length beyond the frame
	unknown := append([]byte(nil), udp[:14]...)
	binary.BigEndian.PutUint16(unknown[12:], 0x88b5)
	unknown = append(unknown, 1, 2, 3)
	pkts := []driver.Packet{
		{Data: udp}, {Data: arpFrame(t)}, {Data: craftedARP(t)}, {Data: truncIP}, {Data: badIHL},
		{Data: []byte{1, 2, 3}}, {Data: nil}, {Data: oversize}, {Data: unknown}, {Data: longIP},
	}
	c.Handle(pkts) // must not panic
	got := c.Counts()
	want := map[Proto]uint64{
		ProtoARP: 1, ProtoRunt: 2, ProtoOversize: 1,
		ProtoMalformed: 4, ProtoOther: 1, ProtoEthernet: 7,
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%v = %d, want %d (all: %v)", p, got[p], w, got)
		}
	}
}

// TestCountAllocatesNothing: well-formed frames, runts and oversize frames
// cost no allocation. (A frame that fails to decode costs gopacket's error
// value: a few allocations on the malformed path only.)
func TestCountAllocatesNothing(t *testing.T) {
	c := NewCount()
	pkts := []driver.Packet{{Data: udpFrame(t)}, {Data: arpFrame(t)}, {Data: []byte{1}}, {Data: make([]byte, 1600)}}
	c.Handle(pkts)
	if a := testing.AllocsPerRun(1000, func() { c.Handle(pkts) }); a != 0 {
		t.Fatalf("Count.Handle allocates %.1f times per batch", a)
	}
	r := Reflect{}
	if a := testing.AllocsPerRun(1000, func() { r.Handle(pkts) }); a != 0 {
		t.Fatalf("Reflect.Handle allocates %.1f times per batch", a)
	}
}

func FuzzCount(f *testing.F) {
	f.Add(udpFrame(f))
	f.Add(arpFrame(f))
	f.Add(craftedARP(f))
	c := NewCount()
	f.Fuzz(func(t *testing.T, data []byte) {
		c.Handle([]driver.Packet{{Data: data}})
		got := c.Counts()
		var classified uint64
		for _, p := range []Proto{ProtoRunt, ProtoOversize, ProtoEthernet} {
			classified += got[p]
		}
		if classified == 0 {
			t.Fatal("frame not counted at all")
		}
	})
}

// Count is called from several queues' bottom halves at once: every frame is
// counted once (and -race sees no shared parser).
func TestCountConcurrent(t *testing.T) {
	c := NewCount()
	batch := make([]driver.Packet, 16)
	for i := range batch {
		batch[i].Data = udpFrame(t)
	}
	const goroutines, rounds = 4, 500
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := append([]driver.Packet(nil), batch...)
			for r := 0; r < rounds; r++ {
				c.Handle(own)
			}
		}()
	}
	wg.Wait()
	want := uint64(goroutines * rounds * len(batch))
	if got := c.Counts(); got[ProtoUDP] != want || got[ProtoIPv4] != want || got[ProtoEthernet] != want || got[ProtoMalformed] != 0 {
		t.Fatalf("counts %v, want %d UDP/IPv4/Ethernet", got, want)
	}
}
