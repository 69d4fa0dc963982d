package qemu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/uiodrv/uiodrv/internal/netif"
	"github.com/uiodrv/uiodrv/internal/unix"
)

// ErrNoNetAdmin is returned when a tap peer cannot be made because this
// process may not create a network namespace or a tap device in it
// (CAP_SYS_ADMIN and CAP_NET_ADMIN; running as root gives both).
var ErrNoNetAdmin = errors.New("qemu: a multiqueue tap peer needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root)")

// MaxTapQueues is the most queues a NIC's tap peer may have (NIC.Queues).
const MaxTapQueues = 16

// tapName names the tap in its private namespace, where nothing else is.
const tapName = "uiodrv0"

// tapLink is a multiqueue tap alone in a network namespace of its own:
// queue fds for QEMU (one per netdev queue) and a packet socket on the tap
// for the host's side of the cable. The namespace has no route to the
// host's interfaces, so no frame reaches or leaves the host's networks; it
// lives as long as one of these fds is open.
type tapLink struct {
	queues []*os.File // /dev/net/tun fds attached as the tap's queues
	pkt    *os.File   // AF_PACKET socket bound to the tap, non-blocking
}

// openTap creates the tap on a locked thread that moves into a fresh
// network namespace and then back into the one it came from, and only
// then unlocks. Back, because the thread may be the process's main thread,
// which the runtime cannot end: left in the private namespace, it would
// take the whole process's /proc/net (which shows the main thread's
// namespace) with it. The fds it opened keep the private namespace alive.
// A thread that cannot go back stays locked, so the runtime ends it (or,
// the main thread, parks it) rather than run other goroutines there.
func openTap(queues int) (*tapLink, error) {
	if queues < 1 || queues > MaxTapQueues {
		return nil, fmt.Errorf("tap peer: %d queues, want 1 to %d", queues, MaxTapQueues)
	}
	type result struct {
		l   *tapLink
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("tap peer: this thread's network namespace: %w", err)}
			return
		}
		defer orig.Close()
		l, err := openTapInNewNetns(queues)
		if serr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); serr == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{l, err}
	}()
	r := <-ch
	return r.l, r.err
}

func openTapInNewNetns(queues int) (l *tapLink, err error) {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("tap peer: new network namespace: %w (%v)", ErrNoNetAdmin, err)
		}
		return nil, fmt.Errorf("tap peer: new network namespace: %w", err)
	}
	l = &tapLink{}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	// IPv6 off before the tap exists, so that it never sends router
	// solicitations or MLD reports: the NIC would reflect them back as
	// frames no test sent. (Without IPv6 in the kernel there is no file
	// and nothing to turn off.)
	if err := disableIPv6("default"); err != nil {
		return nil, err
	}
	for i := 0; i < queues; i++ {
		f, err := openTapQueue()
		if err != nil {
			return nil, fmt.Errorf("tap peer: queue %d: %w", i, err)
		}
		l.queues = append(l.queues, f)
	}
	if err := disableIPv6(tapName); err != nil {
		return nil, err
	}
	if err := netif.Up(tapName); err != nil {
		return nil, fmt.Errorf("tap peer: %s up: %w", tapName, err)
	}
	if l.pkt, err = openTapPacket(); err != nil {
		return nil, err
	}
	return l, nil
}

// openTapQueue opens /dev/net/tun and attaches it to the tap as one more
// queue (TUNSETIFF on the same name; the first call creates the device).
// No IFF_VNET_HDR: QEMU then offers the guest no checksum or segmentation
// offloads, and each read or write is exactly one Ethernet frame.
func openTapQueue() (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(tapName)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_MULTI_QUEUE)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("TUNSETIFF %s: %w (%v)", tapName, ErrNoNetAdmin, err)
		}
		return nil, fmt.Errorf("TUNSETIFF %s: %w", tapName, err)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+tapName), nil
}

// openTapPacket opens the host's end: a packet socket bound to the tap that
// sees every frame QEMU writes to any queue and none that leave through the
// tap (PACKET_IGNORE_OUTGOING: the socket never sees its own frames anyway,
// but the kernel's, should it send any, are not the NIC's), non-blocking so
// that reads and writes go through the Go poller and honour deadlines.
func openTapPacket() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(netif.Htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("tap peer: packet socket: %w", err)
	}
	fail := func(op string, err error) (*os.File, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("tap peer: packet socket: %s: %w", op, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("PACKET_IGNORE_OUTGOING", err)
	}
	// As big as the UDP peer's: a burst of reflected frames must not drop
	// here before the test reads it.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		return fail("SO_RCVBUFFORCE", err)
	}
	idx, err := ifIndex(fd, tapName)
	if err != nil {
		return fail("index of "+tapName, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: netif.Htons(unix.ETH_P_ALL), Ifindex: idx}); err != nil {
		return fail("bind to "+tapName, err)
	}
	return os.NewFile(uintptr(fd), "packet:"+tapName), nil
}

// ifIndex is the interface index of name in this thread's namespace.
func ifIndex(fd int, name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return int(ifr.Uint32()), nil
}

// disableIPv6 writes 1 to net.ipv6.conf.IF.disable_ipv6 of this thread's
// namespace (procfs resolves /proc/sys/net by the caller's namespace).
func disableIPv6(ifname string) error {
	p := filepath.Join("/proc/sys/net/ipv6/conf", ifname, "disable_ipv6")
	if err := os.WriteFile(p, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tap peer: disable IPv6 on %s: %w", ifname, err)
	}
	return nil
}

// dropQueues closes this process's copies of the queue fds, once QEMU
// (which got them as exec.Cmd.ExtraFiles) has started and holds its own:
// from then on the tap's queues are QEMU's alone.
func (l *tapLink) dropQueues() {
	for _, f := range l.queues {
		_ = f.Close()
	}
	l.queues = nil
}

func (l *tapLink) close() {
	l.dropQueues()
	if l.pkt != nil {
		_ = l.pkt.Close()
	}
}

// CheckTapPeer makes a one-queue tap peer and closes it: nil when this
// process can give a NIC a multiqueue tap peer (NIC.Queues), else why not
// (wrapping ErrNoNetAdmin when it lacks the capabilities).
func CheckTapPeer() error {
	l, err := openTap(1)
	if err != nil {
		return err
	}
	l.close()
	return nil
}
