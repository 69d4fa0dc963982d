package qemu

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// The -netdev value of each kind of peer, and the fd numbers of a tap's
// queues after another NIC's.
func TestNetdevArg(t *testing.T) {
	udp := &Peer{conn: &net.UDPConn{}, qemu: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}}
	// A UDPConn without a socket has no local address: build the dgram
	// argument from a real one.
	real, err := newPeer()
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	udp.conn = real.conn
	want := "dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=4000,remote.type=inet,remote.host=127.0.0.1,remote.port="
	if got := netdevArg("n0", udp, 3); !strings.HasPrefix(got, want) {
		t.Errorf("dgram netdev: %s", got)
	}
	tap := &Peer{tap: &tapLink{queues: make([]*os.File, 2)}}
	if got := netdevArg("n1", tap, 3); got != "tap,id=n1,fds=3:4,vhost=off" {
		t.Errorf("2-queue tap netdev first: %s", got)
	}
	tap4 := &Peer{tap: &tapLink{queues: make([]*os.File, 4)}}
	if got := netdevArg("n2", tap4, 5); got != "tap,id=n2,fds=5:6:7:8,vhost=off" {
		t.Errorf("4-queue tap netdev after 2 fds: %s", got)
	}
	if tap.Conn() != nil || tap.QEMUPort() != 0 || udp.QEMUPort() != 4000 {
		t.Errorf("tap peer Conn %v QEMUPort %d, dgram QEMUPort %d", tap.Conn(), tap.QEMUPort(), udp.QEMUPort())
	}
}

func TestNICQueuesChecked(t *testing.T) {
	for _, c := range []struct {
		nic NIC
		err string
	}{
		{NIC{Model: VirtioNet}, ""},
		{NIC{Model: VirtioNet, Queues: 1}, ""},
		{NIC{Model: VirtioNet, Queues: 2}, ""},
		{NIC{Model: E1000, Queues: 1}, ""},
		{NIC{Model: VirtioNet, Queues: -1}, "want 0 to 16"},
		{NIC{Model: VirtioNet, Queues: MaxTapQueues + 1}, "want 0 to 16"},
		{NIC{Model: IGB, Queues: 2}, "only virtio-net-pci"},
	} {
		err := c.nic.checkQueues()
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s Queues %d: %v, want %q", c.nic.Model, c.nic.Queues, err, c.err)
		}
	}
}

// tapOrSkip opens a tap peer of n queues, skipping (outside CI) where this
// process may not or the machine has no /dev/net/tun.
func tapOrSkip(t *testing.T, n int) *Peer {
	t.Helper()
	p, err := newTapPeer(n)
	if err != nil && os.Getenv("CI") != "true" {
		t.Skipf("no tap peer here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// readQueue reads one frame from tun queue f, or returns nil after timeout.
// The fd blocks (as QEMU is given it), so it reads only once poll says a
// frame is there; a poll interrupted by a signal (the Go runtime's
// preemption) is asked again.
func readQueue(t *testing.T, f *os.File, buf []byte, timeout time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		pfd := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll %s: %v", f.Name(), err)
		}
		if n == 0 {
			return nil
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			t.Fatalf("poll %s: revents %#x", f.Name(), pfd[0].Revents)
		}
		k, err := f.Read(buf)
		if err != nil {
			t.Fatalf("read %s: %v", f.Name(), err)
		}
		return buf[:k]
	}
}

// The tap peer in its private namespace, with the queue fds standing in
// for QEMU: frames of 64 flows sent by the peer arrive intact, each on one
// queue, spread over both (the tun driver's flow hash, which is what gives
// a 2-queue virtio-net frames on both RX queues); frames written to either
// queue arrive at the peer intact, and the peer never reads back what it
// sent. Then nothing else arrives on the queues: the kernel sends no
// IPv6 router solicitation or MLD report on the tap.
func TestTapPeer(t *testing.T) {
	p := tapOrSkip(t, 2)
	q := p.tapQueues()
	if len(q) != 2 {
		t.Fatalf("%d queues", len(q))
	}
	flows, err := NewFlows(64, 100, [6]byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}, [6]byte{2, 0, 0, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]bool{}
	buf := make([]byte, 2048)
	for i := 0; i < flows.N(); i++ {
		fr, _ := flows.Next(buf, i)
		sent[string(fr)] = true
		if err := p.Send(fr); err != nil {
			t.Fatalf("send flow %d: %v", i, err)
		}
	}
	var perQueue [2]int
	rbuf := make([]byte, 4096)
	for qi, f := range q {
		for {
			fr := readQueue(t, f, rbuf, 200*time.Millisecond)
			if fr == nil {
				break
			}
			if !sent[string(fr)] {
				t.Fatalf("queue %d: a frame that was not sent (or was altered): % x", qi, fr[:min(len(fr), 64)])
			}
			delete(sent, string(fr))
			perQueue[qi]++
		}
	}
	if len(sent) != 0 || perQueue[0] == 0 || perQueue[1] == 0 {
		t.Fatalf("64 flows: %v frames per queue, %d lost; want all 64 over both", perQueue, len(sent))
	}
	t.Logf("64 flows: queue 0 got %d frames, queue 1 %d", perQueue[0], perQueue[1])

	for qi, f := range q {
		want := flows.Frame(make([]byte, 100), qi, 1000)
		want[0], want[6] = 2, 0x52 // as a NIC would send it: to the peer
		if _, err := f.Write(want); err != nil {
			t.Fatalf("write queue %d: %v", qi, err)
		}
		got, err := p.Recv(time.Now().Add(2 * time.Second))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("frame written to queue %d: peer got % x (%v), want % x", qi, got, err, want)
		}
	}
	if got, err := p.Recv(time.Now().Add(100 * time.Millisecond)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("peer read %d more bytes (%v), want a timeout: it must not see its own frames", len(got), err)
	}
	// The kernel's IPv6 would send MLD reports at link up and a router
	// solicitation about a second later (after duplicate address detection).
	deadline := time.Now().Add(2500 * time.Millisecond)
	for qi := 0; time.Now().Before(deadline); qi ^= 1 {
		if fr := readQueue(t, q[qi], rbuf, 50*time.Millisecond); fr != nil {
			t.Fatalf("queue %d: the host sent a frame of its own (%d bytes): % x", qi, len(fr), fr[:min(len(fr), 64)])
		}
	}
}

// A tap peer's namespace is its own: the host has no interface of its name.
func TestTapPeerPrivate(t *testing.T) {
	tapOrSkip(t, 1)
	if _, err := net.InterfaceByName(tapName); err == nil {
		t.Fatalf("%s is visible in the test's own network namespace", tapName)
	}
}

// TestTapLeavesNoThreadBehind: after taps are made, every thread of the
// process is in the namespace it started in. A thread left in a tap's
// private namespace that is the main thread takes the process's /proc/net
// with it (the soak test reads QEMU's socket there).
func TestTapLeavesNoThreadBehind(t *testing.T) {
	want, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		tapOrSkip(t, 1)
	}
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads' namespaces: %v (%d)", err, len(tasks))
	}
	for _, p := range tasks {
		if got, err := os.Readlink(p); err == nil && got != want {
			t.Errorf("%s is %s, want %s", p, got, want)
		}
	}
}
