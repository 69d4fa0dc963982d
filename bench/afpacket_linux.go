package bench

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/internal/netif"
)

// KernelPeer is the kernel driver's side of the comparison: an AF_PACKET
// socket on the interface the guest kernel's e1000/e1000e driver created,
// serving the bench protocol with recvmmsg/sendmmsg batches.
type KernelPeer struct {
	fd    int
	ifi   *net.Interface
	batch int
}

// PeerBatch is the recvmmsg/sendmmsg batch of the kernel peer (the reference
// AF_PACKET program in FACTS.md used 64).
const PeerBatch = 64

// OpenKernelPeer finds the interface of the PCI device bdf (bound to a kernel
// driver), brings it up, waits for carrier and opens a packet socket on it
// bound to IPv4 (every bench frame is UDP/IPv4; Server.Serve skips any other
// IPv4 frame) and promiscuous: the host sends to DstMAC, not to the
// interface's address, so that the kernel's IPv4 stack drops each frame at
// the first check of ip_rcv (PACKET_OTHERHOST) instead of routing it
// (proto.go). flows is ignored (the flows are the same frames); it stays for
// the callers.
func OpenKernelPeer(bdf string, flows bool) (*KernelPeer, error) {
	ifs, _ := filepath.Glob("/sys/bus/pci/devices/" + bdf + "/net/*")
	if len(ifs) == 0 { // virtio_net's interface hangs off the virtio device
		ifs, _ = filepath.Glob("/sys/bus/pci/devices/" + bdf + "/virtio*/net/*")
	}
	if len(ifs) != 1 {
		return nil, fmt.Errorf("network interfaces of %s: %v", bdf, ifs)
	}
	ifi, err := net.InterfaceByName(filepath.Base(ifs[0]))
	if err != nil {
		return nil, err
	}
	if err := netif.Up(ifi.Name); err != nil {
		return nil, fmt.Errorf("bring %s up: %w", ifi.Name, err)
	}
	carrier := "/sys/class/net/" + ifi.Name + "/carrier"
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(carrier); strings.TrimSpace(string(b)) == "1" {
			break
		}
		if time.Since(start) > 20*time.Second {
			return nil, fmt.Errorf("%s: no carrier after 20s", ifi.Name)
		}
	}
	proto := netif.Htons(unix.ETH_P_IP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	mr := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s promiscuous: %w", ifi.Name, os.NewSyscallError("setsockopt", err))
	}
	// A large receive buffer, as a tuned AF_PACKET program would have.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	// Wake at least every 200 ms to notice Close.
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
	return &KernelPeer{fd: fd, ifi: ifi, batch: PeerBatch}, nil
}

// Name is the interface name.
func (k *KernelPeer) Name() string { return k.ifi.Name }

// MAC is the interface's address.
func (k *KernelPeer) MAC() net.HardwareAddr { return k.ifi.HardwareAddr }

// Serve runs srv on every frame until stop returns true (checked at least
// every 200 ms), reflecting what srv says to reflect.
func (k *KernelPeer) Serve(srv *Server, stop func() bool) error {
	m := newMmsg(k.batch, 2048)
	for !stop() {
		n, err := m.recv(k.fd)
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			return os.NewSyscallError("recvmmsg", err)
		}
		out := 0
		for i := 0; i < n; i++ {
			f := m.frame(i)
			if srv.Serve(f) {
				m.setOut(out, i, len(f))
				out++
			}
		}
		if out > 0 {
			if err := m.send(k.fd, out); err != nil && err != unix.EAGAIN && err != unix.ENOBUFS {
				return os.NewSyscallError("sendmmsg", err)
			}
		}
	}
	return nil
}

// Close closes the socket.
func (k *KernelPeer) Close() error { return unix.Close(k.fd) }
