package qemu

import (
	"fmt"
	"net"
	"time"
)

// Peer is the host end of one NIC: frames sent here arrive at the NIC; frames
// the NIC transmits arrive here. It is a UDP socket on loopback paired with
// QEMU's -netdev dgram: one datagram is one Ethernet frame (no FCS).
type Peer struct {
	conn *net.UDPConn
	qemu *net.UDPAddr
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

// QEMUPort is the UDP port of QEMU's end of the cable (127.0.0.1), e.g. to
// read that socket's drop count in /proc/net/udp.
func (p *Peer) QEMUPort() int { return p.qemu.Port }

// Send sends one Ethernet frame to the NIC.
func (p *Peer) Send(frame []byte) error {
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

// RecvInto reads the next frame into buf without allocating.
func (p *Peer) RecvInto(buf []byte, deadline time.Time) (int, error) {
	if err := p.conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, _, err := p.conn.ReadFromUDP(buf)
	return n, err
}

// Conn is the underlying socket, for benchmarks that batch.
func (p *Peer) Conn() *net.UDPConn { return p.conn }

// Close closes the socket.
func (p *Peer) Close() error { return p.conn.Close() }
