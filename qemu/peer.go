package qemu

import (
	"fmt"
	"net"
	"os"
	"time"
)

// Peer is the host end of one NIC: frames sent here arrive at the NIC; frames
// the NIC transmits arrive here. One Send is one Ethernet frame (no FCS),
// and so is each frame received.
//
// For a NIC of one queue (NIC.Queues 0 or 1) it is a UDP socket on loopback
// paired with QEMU's -netdev dgram: one datagram is one frame. For a NIC of
// several queues it is a packet socket on a multiqueue tap (-netdev tap,
// one tun fd per queue) that lives alone in a private network namespace of
// the test process: see NIC.Queues.
type Peer struct {
	// The dgram peer.
	conn *net.UDPConn
	qemu *net.UDPAddr
	// The tap peer.
	tap *tapLink
}

func newPeer() (*Peer, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("lab peer: %w", err)
	}
	_ = conn.SetReadBuffer(8 << 20)
	_ = conn.SetWriteBuffer(8 << 20)
	// QEMU's end: pick a free port by binding and releasing it.
	tmp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("lab peer: %w", err)
	}
	addr := tmp.LocalAddr().(*net.UDPAddr)
	tmp.Close()
	return &Peer{conn: conn, qemu: addr}, nil
}

// newTapPeer makes the host end of a NIC with a netdev of queues queues.
func newTapPeer(queues int) (*Peer, error) {
	l, err := openTap(queues)
	if err != nil {
		return nil, err
	}
	return &Peer{tap: l}, nil
}

// QEMUPort is the UDP port of QEMU's end of the cable (127.0.0.1), e.g. to
// read that socket's drop count in /proc/net/udp; 0 for a tap peer, which
// has no such socket.
func (p *Peer) QEMUPort() int {
	if p.qemu == nil {
		return 0
	}
	return p.qemu.Port
}

// Send sends one Ethernet frame to the NIC.
func (p *Peer) Send(frame []byte) error {
	if p.tap != nil {
		_, err := p.tap.pkt.Write(frame)
		return err
	}
	_, err := p.conn.WriteToUDP(frame, p.qemu)
	return err
}

// Recv returns the next frame the NIC transmitted, or an error at the deadline.
func (p *Peer) Recv(deadline time.Time) ([]byte, error) {
	buf := make([]byte, 16<<10)
	n, err := p.RecvInto(buf, deadline)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// RecvInto reads the next frame into buf without allocating. At the
// deadline the error matches os.ErrDeadlineExceeded (and is a net.Error
// whose Timeout is true for a dgram peer).
func (p *Peer) RecvInto(buf []byte, deadline time.Time) (int, error) {
	if p.tap != nil {
		if err := p.tap.pkt.SetReadDeadline(deadline); err != nil {
			return 0, err
		}
		return p.tap.pkt.Read(buf)
	}
	if err := p.conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, _, err := p.conn.ReadFromUDP(buf)
	return n, err
}

// Conn is the underlying UDP socket, for benchmarks that batch; nil for a
// tap peer (NIC.Queues above 1), which has none.
func (p *Peer) Conn() *net.UDPConn { return p.conn }

// Close closes the peer's sockets (and, for a tap peer, whatever queue fds
// QEMU has not taken yet). It is idempotent.
func (p *Peer) Close() error {
	if p.tap != nil {
		p.tap.close()
		return nil
	}
	return p.conn.Close()
}

// tapQueues are the tun fds QEMU is given for a tap peer (nil otherwise),
// in queue order.
func (p *Peer) tapQueues() []*os.File {
	if p.tap == nil {
		return nil
	}
	return p.tap.queues
}
