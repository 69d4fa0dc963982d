package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/uiodrv/uiodrv"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// The tests build requests and the answers they expect with gopacket, an
// implementation of the checksums independent of the example's.

var (
	nicMAC  = []byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56} // the lab's first NIC
	peerMAC = []byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}
)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// request is datagram i: from a varying source port to dport, 18 to 1017
// bytes of payload; every fifth without a UDP checksum.
func request(t testing.TB, i int, dport uint16) []byte {
	eth := &layers.Ethernet{SrcMAC: peerMAC, DstMAC: nicMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: byte(1 + i%200), Id: uint16(i), Protocol: layers.IPProtocolUDP,
		SrcIP: []byte{10, 0, byte(i >> 8), byte(i)}, DstIP: []byte{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: layers.UDPPort(1024 + i), DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	payload := make([]byte, 18+(i*37)%1000)
	for j := range payload {
		payload[j] = byte(i + j)
	}
	f := serialize(t, eth, ip, udp, gopacket.Payload(payload))
	if i%5 == 0 {
		f[14+20+6], f[14+20+7] = 0, 0
	}
	return f
}

// answer is what udpecho must send back for req.
func answer(t testing.TB, req []byte) []byte {
	p := gopacket.NewPacket(req, layers.LayerTypeEthernet, gopacket.Default)
	eth, ip, udp := *p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet), *p.Layer(layers.LayerTypeIPv4).(*layers.IPv4), *p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	eth.SrcMAC, eth.DstMAC = eth.DstMAC, eth.SrcMAC
	ip.SrcIP, ip.DstIP, ip.TTL = ip.DstIP, ip.SrcIP, 64
	udp.SrcPort, udp.DstPort = udp.DstPort, udp.SrcPort
	udp.SetNetworkLayerForChecksum(&ip)
	return serialize(t, &eth, &ip, &udp, gopacket.Payload(udp.Payload))
}

// noise is frame i of what udpecho must ignore.
func noise(t testing.TB, i int) []byte {
	f := request(t, i, 7)
	switch i % 5 {
	case 0:
		return request(t, i, 9) // another port
	case 1:
		f[14+10] ^= 0xff // bad IPv4 header checksum
	case 2:
		f[14+20+6] ^= 0x01 // bad UDP checksum
		if f[14+20+6] == 0 && f[14+20+7] == 0 {
			f[14+20+7] = 1
		}
	case 3:
		f[14+6] = 0x20 // a first fragment (more fragments)
		f[14+10], f[14+11] = 0, 0
		c := checksum(0, f[14:34])
		f[14+10], f[14+11] = byte(c>>8), byte(c)
	case 4:
		f[12], f[13] = 0x08, 0x06 // ARP's EtherType
	}
	return f
}

// TestAnswer checks answers byte for byte against gopacket's, that nothing
// else is answered, and that the handler allocates nothing.
func TestAnswer(t *testing.T) {
	e := &echo{port: 7}
	for i := 0; i < 500; i++ {
		req := request(t, i, 7)
		want := answer(t, req)
		pk := []uiodrv.Packet{{Data: req}, {Data: noise(t, i)}}
		e.Handle(pk)
		if pk[0].Verdict != uiodrv.Transmit || !bytes.Equal(req, want) {
			t.Fatalf("datagram %d: verdict %v\n got % x\nwant % x", i, pk[0].Verdict, req, want)
		}
		if pk[1].Verdict != uiodrv.Drop {
			t.Fatalf("noise %d (kind %d) answered", i, i%5)
		}
	}
	pk := []uiodrv.Packet{{Data: request(t, 1, 7)}}
	if a := testing.AllocsPerRun(100, func() { e.Handle(pk) }); a != 0 {
		t.Fatalf("Handle allocates %.1f times", a)
	}
}

const labDatagrams = 400

// TestLabUDPEcho runs udpecho in the lab on an e1000 (vfio-pci): the host
// sends labDatagrams datagrams to port 7, one noise frame before every
// fourth, and checks each answer byte for byte; an answered noise frame
// shows up as a mismatch.
func TestLabUDPEcho(t *testing.T) {
	vm := labtest.Start(t, labtest.Options{
		Package: "./examples/udpecho",
		Run:     "^TestGuestUDPEcho$",
		VM: qemu.Config{IOMMU: true, Timeout: 5 * time.Minute, NICs: []qemu.NIC{{Model: qemu.E1000}},
			Bind: []qemu.Binding{{BDF: "0000:00:03.0", Driver: "vfio-pci"}}},
		Env: []string{"UDPECHO_MODE=" + envOr("UDPECHO_MODE", "napi")},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := vm.WaitOutput(ctx, 0, "udpecho: answering"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // QEMU's e1000 ignores RX for a second after RCTL is written
	peer, buf := vm.Peer(0), make([]byte, 4096)
	for i := 0; i < labDatagrams; i++ {
		if i%4 == 0 {
			if err := peer.Send(noise(t, i/4)); err != nil {
				t.Fatal(err)
			}
		}
		req := request(t, i, 7)
		want := answer(t, req)
		if err := peer.Send(req); err != nil {
			t.Fatal(err)
		}
		n, err := peer.RecvInto(buf, time.Now().Add(10*time.Second))
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("datagram %d:\n got % x\nwant % x", i, buf[:n], want)
		}
	}
	t.Logf("%d datagrams answered byte for byte, %d noise frames ignored", labDatagrams, labDatagrams/4)
	labtest.Finish(t, vm)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestGuestUDPEcho runs udpecho's run in the guest until it has answered
// labDatagrams, and checks its own count of what it ignored.
func TestGuestUDPEcho(t *testing.T) {
	labtest.InGuest(t)
	mode, err := uiodrv.ParseMode(os.Getenv("UDPECHO_MODE"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, config{dev: "0000:00:03.0", port: 7, mode: mode, count: labDatagrams}, io.MultiWriter(os.Stdout, &out)); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("udpecho: answered %d, ignored %d, sent %d, tx dropped 0", labDatagrams, labDatagrams/4, labDatagrams)
	if !bytes.Contains(out.Bytes(), []byte(want)) {
		t.Fatalf("summary %q, want %q", out.String(), want)
	}
}
