package drivertest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/internal/netif"
)

// PacketWire is a Wire over a kernel network interface (AF_PACKET): in the
// lab, a second NIC driven by the guest kernel's own driver, cabled to the NIC
// under test through the host. It is how a driver runs the conformance kit
// against an emulated (or a real, looped-back) NIC.
type PacketWire struct {
	fd int
	sa *unix.SockaddrLinklayer
}

// OpenPacketWireAt opens a PacketWire on the one network interface the
// kernel gave the PCI function bdf (a lab test's wire NIC, driven by the
// guest kernel's own driver) and closes it when the test ends. It fails the
// test when the function has no interface, or more than one.
func OpenPacketWireAt(t testing.TB, bdf string) *PacketWire {
	t.Helper()
	ifs, _ := filepath.Glob("/sys/bus/pci/devices/" + bdf + "/net/*")
	if len(ifs) != 1 {
		t.Fatalf("net interfaces of the wire NIC %s: %v", bdf, ifs)
	}
	w, err := OpenPacketWire(filepath.Base(ifs[0]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// OpenPacketWire brings the interface up with IPv6 off (so the kernel sends
// nothing of its own), waits for carrier, and opens a promiscuous packet
// socket on it.
func OpenPacketWire(ifname string) (*PacketWire, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	_ = os.WriteFile(filepath.Join("/proc/sys/net/ipv6/conf", ifname, "disable_ipv6"), []byte("1"), 0)
	if err := netif.Up(ifname); err != nil {
		return nil, fmt.Errorf("%s up: %w", ifname, err)
	}
	carrier := filepath.Join("/sys/class/net", ifname, "carrier")
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(carrier); strings.TrimSpace(string(b)) == "1" {
			break
		}
		if time.Since(start) > 20*time.Second {
			return nil, fmt.Errorf("%s: no carrier after 20 s", ifname)
		}
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(netif.Htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	w := &PacketWire{fd: fd, sa: &unix.SockaddrLinklayer{Protocol: netif.Htons(unix.ETH_P_ALL), Ifindex: ifi.Index}}
	mr := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.Bind(fd, w.sa); err != nil {
		w.Close()
		return nil, fmt.Errorf("bind packet socket to %s: %w", ifname, err)
	}
	// Room for whole TX rings of full-size frames: the default buffer
	// (about 200 KiB) drops what a burst of a thousand frames brings.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20); err != nil {
		w.Close()
		return nil, fmt.Errorf("packet socket buffer: %w", err)
	}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
		w.Close()
		return nil, fmt.Errorf("%s promiscuous: %w", ifname, err)
	}
	return w, nil
}

// Send transmits a frame on the interface.
func (w *PacketWire) Send(f []byte) error { return unix.Sendto(w.fd, f, 0, w.sa) }

// Collect receives frames that arrived on the interface (not those it sent):
// what is queued at once, then more until want arrived or timeout passed.
func (w *PacketWire) Collect(want int, timeout time.Duration) [][]byte {
	var out [][]byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(timeout)
	for {
		for {
			n, from, err := unix.Recvfrom(w.fd, buf, unix.MSG_DONTWAIT)
			if err != nil {
				break
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			out = append(out, append([]byte(nil), buf[:n]...))
		}
		left := time.Until(deadline)
		if len(out) >= want || left <= 0 {
			return out
		}
		p := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
		_, _ = unix.Poll(p, int(min(left, 10*time.Millisecond)/time.Millisecond)+1)
	}
}

// Close closes the socket.
func (w *PacketWire) Close() error { return unix.Close(w.fd) }
