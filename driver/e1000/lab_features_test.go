package e1000_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/handler"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// malformedFrames are what a hostile or broken peer sends. Each is addressed
// to the NIC so its filter accepts it.
func malformedFrames(mac [6]byte) [][]byte {
	hdr := func(etype uint16) []byte {
		f := append(append([]byte(nil), mac[:]...), 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x02)
		return binary.BigEndian.AppendUint16(f, etype)
	}
	runt := append(hdr(0x88b5), 'r', 'u', 'n', 't') // 18 bytes: the NIC pads it to 60
	truncIP := append(hdr(0x0800), 0x45, 0x00, 0x05, 0xdc, 0, 0, 0, 0)
	truncIP = append(truncIP, make([]byte, 60-len(truncIP))...) // IPv4 claiming 1500 bytes in a 60-byte frame
	badIHL := append(hdr(0x0800), 0x4f)                         // IHL of 60 bytes
	badIHL = append(badIHL, make([]byte, 60-len(badIHL))...)
	arp := append(hdr(0x0806), 0x00, 0x01, 0x08, 0x00, 0xff, 0xff, 0x00, 0x01) // hw/proto sizes 255: google/gopacket v1.1.19 panicked
	arp = append(arp, make([]byte, 60-len(arp))...)
	oversize := append(hdr(0x88b5), make([]byte, 2000)...) // the NIC drops it (no long packets) and counts ROC
	return [][]byte{runt, truncIP, badIHL, arp, oversize}
}

// TestLabCaptureLinkMalformed: the driver's capture holds exactly the frames
// sent; malformed frames are counted and do not stop it; the QEMU monitor
// takes the link down and up, the driver records both and traffic resumes.
func TestLabCaptureLinkMalformed(t *testing.T) {
	n := labNICs[0]
	// QEMU 8.1 stopped padding received runts in its NIC models (a -netdev
	// dgram peer's 18-byte frame reaches the guest as 18 bytes); 7.2 padded.
	newQEMU, err := qemu.QEMUAtLeast(8, 1)
	if err != nil {
		t.Fatal(err)
	}
	vm := labtest.Start(t, labtest.Options{
		Package: "./driver/e1000",
		Run:     "^TestGuestCaptureLinkMalformed$",
		Env:     []string{fmt.Sprintf("LAB_PADS_RUNTS=%v", !newQEMU)},
		VM: qemu.Config{
			IOMMU: true, QMP: true, Timeout: 5 * time.Minute,
			NICs: []qemu.NIC{{Model: n.model}},
			Bind: []qemu.Binding{{BDF: n.bdf, Driver: "vfio-pci"}},
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	wait := func(s string) {
		t.Helper()
		if _, err := vm.WaitOutput(ctx, 0, s); err != nil {
			t.Fatal(err)
		}
	}
	peer := vm.Peer(0)
	wait("LAB READY")
	if err := exchange(peer, n.mac, 100, 16); err != nil {
		t.Fatal(err)
	}
	for _, f := range malformedFrames(n.mac) {
		if err := peer.Send(f); err != nil {
			t.Fatal(err)
		}
	}
	// The reflected malformed frames that passed the NIC come back; drain them.
	buf := make([]byte, 4096)
	for {
		if _, err := peer.RecvInto(buf, time.Now().Add(time.Second)); err != nil {
			break
		}
	}
	if err := vm.SetLink(0, false); err != nil {
		t.Fatal(err)
	}
	wait("LAB LINK DOWN")
	if err := vm.SetLink(0, true); err != nil {
		t.Fatal(err)
	}
	wait("LAB LINK UP")
	if err := exchangeFrom(peer, n.mac, 100, 200, 16); err != nil {
		t.Fatalf("traffic after link up: %v", err)
	}
	labtest.Finish(t, vm)
}

func TestGuestCaptureLinkMalformed(t *testing.T) {
	labtest.InGuest(t)
	n := labNICs[0]
	dev, err := e1000.Open(n.bdf, e1000.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := "/tmp/capture.pcap"
	capt, err := handler.NewCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	count := handler.NewCount()
	port, err := driver.NewPort(dev, driver.Config{Mode: deferral.ModeWorkqueue, Handler: handler.Chain{count, capt, handler.Reflect{}}, IRQCPU: 0, BHCPU: 1})
	if err != nil {
		dev.Close()
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	fmt.Println("LAB READY")
	waitStat := func(what string, cond func(s *driver.Stats) bool) driver.Stats {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			s := port.Stats()
			if cond(&s) {
				return s
			}
			if time.Now().After(deadline) {
				port.Close()
				t.Fatalf("timed out waiting for %s: %v", what, &s)
			}
		}
	}
	// 100 good frames, then 4 malformed that pass the NIC (the oversize one does not).
	waitStat("frames", func(s *driver.Stats) bool { return s.Processed >= 104 && s.HW.RxOversize >= 1 })
	waitStat("link down", func(s *driver.Stats) bool { return s.LinkDowns == 1 && !s.Link })
	fmt.Println("LAB LINK DOWN")
	waitStat("link up", func(s *driver.Stats) bool { return s.LinkUps == 1 && s.Link })
	time.Sleep(500 * time.Millisecond)
	fmt.Println("LAB LINK UP")
	st := waitStat("traffic after link up", func(s *driver.Stats) bool { return s.Processed >= 204 })
	time.Sleep(200 * time.Millisecond)
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	st = port.Stats()
	t.Logf("%v; protocols %v", &st, count.Counts())
	c := count.Counts()
	if st.Processed != 204 || st.Dropped() != 0 || st.HW.RxOversize != 1 || st.Panics != 0 {
		t.Errorf("counters: %v (oversize %d)", &st, st.HW.RxOversize)
	}
	if c[handler.ProtoMalformed] != 3 || c[handler.ProtoUDP] != 200 || c[handler.ProtoOther] != 1 {
		t.Errorf("protocol counts: malformed %d (want 3: truncated IPv4, bad IHL, crafted ARP), UDP %d (want the 200 test frames), other %d (want the runt)",
			c[handler.ProtoMalformed], c[handler.ProtoUDP], c[handler.ProtoOther])
	}
	// The capture holds exactly what arrived, in order.
	var want [][]byte
	for i := 0; i < 100; i++ {
		want = append(want, labFrame(i, n.mac))
	}
	for _, f := range malformedFrames(n.mac)[:4] {
		if len(f) < 60 && os.Getenv("LAB_PADS_RUNTS") == "true" { // QEMU < 8.1 pads runts to the Ethernet minimum
			f = append(f, make([]byte, 60-len(f))...)
		}
		want = append(want, f)
	}
	for i := 100; i < 200; i++ {
		want = append(want, labFrame(i, n.mac))
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		data, _, err := r.ReadPacketData()
		if err != nil {
			if i != len(want) {
				t.Fatalf("capture holds %d frames, want %d", i, len(want))
			}
			break
		}
		if i >= len(want) || !bytes.Equal(data, want[i]) {
			t.Fatalf("captured frame %d differs (%d bytes)", i, len(data))
		}
	}
}
