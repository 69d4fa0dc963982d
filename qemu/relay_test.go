package qemu

import (
	"context"
	"net"
	"testing"
	"time"
)

// Relay passes what keep accepts, in order, to every peer, and nothing else.
func TestRelay(t *testing.T) {
	from, err := newPeer()
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	var to []*Peer
	var nics []*net.UDPConn // QEMU's end of each destination peer
	for i := 0; i < 2; i++ {
		p, err := newPeer()
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		c, err := net.ListenUDP("udp4", p.qemu)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		to, nics = append(to, p), append(nics, c)
	}
	nic, err := net.DialUDP("udp4", nil, from.conn.LocalAddr().(*net.UDPAddr)) // the source NIC
	if err != nil {
		t.Fatal(err)
	}
	defer nic.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Relay(ctx, from, func(f []byte) bool { return f[0] == 'K' }, true, to...)
	want := []string{"K0", "K1", "K2"}
	for i, f := range []string{"K0", "drop", "K1", "drop", "K2"} {
		if _, err := nic.Write([]byte(f)); err != nil {
			t.Fatal(i, err)
		}
	}
	buf := make([]byte, 64)
	for i, c := range nics {
		for _, w := range want {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _, err := c.ReadFromUDP(buf)
			if err != nil || string(buf[:n]) != w {
				t.Fatalf("peer %d: got %q, %v; want %q", i, buf[:n], err, w)
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := c.ReadFromUDP(buf); err == nil {
			t.Fatalf("peer %d: %q passed the filter", i, buf[:n])
		}
	}
}
