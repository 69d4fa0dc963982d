package bench

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/internal/netif"
	"github.com/uiodrv/uiodrv/internal/testframe"
)

// The knobs of the busy-polling responders. napi.rst: with preferred busy
// polling, napi_defer_hard_irqs keeps the device's interrupt masked for that
// many empty polls and gro_flush_timeout is the watchdog that runs the NAPI
// poll if the application stops polling; it must be longer than the
// application's gap between polls, which under TCG (timers about 1 ms late,
// FACTS.md) is long: 1 ms. irq_suspend_timeout is the longer safety net of
// IRQ suspension (napi.rst suggests it be well above gro_flush_timeout):
// 20 ms.
const (
	udpDeferHardIRQs     = 100
	udpGROFlushTimeout   = 1000000  // ns
	udpIRQSuspendTimeout = 20000000 // ns
	udpBusyPollUsecs     = 64
	udpBusyPollBudget    = 64
)

// KernelUDPPeer is a UDP responder through the guest kernel's stack on the
// interface of a kernel-driven NIC, in one of KernelUDPModes.
type KernelUDPPeer struct {
	fd, epfd int
	ifi      *net.Interface
	mode     string
	m        *udpMmsg
	restore  map[string]string // sysfs files and their values before
	napiID   uint32            // the NAPI instance given irq_suspend_timeout or threaded busy poll
	napiAttr uint16            // which of the two
	Note     string            // what was set, for the DONE line
}

// OpenKernelUDPPeer sets the interface of bdf up as ServerIP/8 with a
// permanent neighbour entry per flow (the host answers no ARP), applies
// mode's knobs and opens the UDP socket on testframe.Port.
func OpenKernelUDPPeer(bdf, mode string, flows int) (*KernelUDPPeer, error) {
	ifi, err := kernelIface(bdf)
	if err != nil {
		return nil, err
	}
	k := &KernelUDPPeer{fd: -1, epfd: -1, ifi: ifi, mode: mode, restore: map[string]string{}}
	if err := k.open(flows); err != nil {
		k.Close()
		return nil, fmt.Errorf("%s %s: %w", ifi.Name, mode, err)
	}
	return k, nil
}

func (k *KernelUDPPeer) open(flows int) error {
	ctl, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(ctl)
	for _, a := range []struct {
		req  uint
		addr []byte
	}{{unix.SIOCSIFADDR, ServerIP[:]}, {unix.SIOCSIFNETMASK, []byte{255, 0, 0, 0}}} {
		ifr, err := unix.NewIfreq(k.ifi.Name)
		if err != nil {
			return err
		}
		if err := ifr.SetInet4Addr(a.addr); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(ctl, a.req, ifr); err != nil {
			return fmt.Errorf("set address: %w", err)
		}
	}
	for f := range max(flows, 1) {
		src, _, _, _ := testframe.Tuple(f)
		if err := setNeighbour(ctl, k.ifi.Name, src, hostMAC); err != nil {
			return fmt.Errorf("neighbour %v: %w", net.IP(src[:]), err)
		}
	}
	switch k.mode {
	case KModeUDP, KModeUDPThreadedBusy:
	case KModeUDPThreaded:
		if err := k.sysfs("threaded", "1"); err != nil {
			return err
		}
	case KModeUDPBusyPoll, KModeUDPSuspend:
		if err := k.sysfs("napi_defer_hard_irqs", strconv.Itoa(udpDeferHardIRQs)); err != nil {
			return err
		}
		if err := k.sysfs("gro_flush_timeout", strconv.Itoa(udpGROFlushTimeout)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown mode (want %s)", strings.Join(KernelUDPModes, ", "))
	}
	if k.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return os.NewSyscallError("socket", err)
	}
	// Bound to the device: every kernel NIC of the boot gets ServerIP.
	if err := unix.BindToDevice(k.fd, k.ifi.Name); err != nil {
		return os.NewSyscallError("SO_BINDTODEVICE", err)
	}
	_ = unix.SetsockoptInt(k.fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(k.fd, &unix.SockaddrInet4{Port: testframe.Port}); err != nil {
		return os.NewSyscallError("bind", err)
	}
	_ = unix.SetsockoptInt(k.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	_ = unix.SetsockoptTimeval(k.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
	k.m = newUDPMmsg(PeerBatch, 2048)
	if k.mode == KModeUDPBusyPoll || k.mode == KModeUDPSuspend {
		for opt, v := range map[int]int{unix.SO_PREFER_BUSY_POLL: 1, unix.SO_BUSY_POLL: udpBusyPollUsecs, unix.SO_BUSY_POLL_BUDGET: udpBusyPollBudget} {
			if err := unix.SetsockoptInt(k.fd, unix.SOL_SOCKET, opt, v); err != nil {
				return fmt.Errorf("busy poll socket option %#x: %w", opt, err)
			}
		}
		if err := unix.SetNonblock(k.fd, true); err != nil {
			return err
		}
		if k.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
			return os.NewSyscallError("epoll_create1", err)
		}
		if err := unix.EpollCtl(k.epfd, unix.EPOLL_CTL_ADD, k.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(k.fd)}); err != nil {
			return os.NewSyscallError("epoll_ctl", err)
		}
		if err := setEpollParams(k.epfd, udpBusyPollUsecs, udpBusyPollBudget, true); err != nil {
			return fmt.Errorf("EPIOCSPARAMS: %w", err)
		}
		k.Note = fmt.Sprintf(" defer_hard_irqs=%d gro_flush_timeout=%d busy_poll_usecs=%d budget=%d", udpDeferHardIRQs,
			udpGROFlushTimeout, udpBusyPollUsecs, udpBusyPollBudget)
	}
	return nil
}

// sysfs writes the interface's attribute and remembers its old value.
func (k *KernelUDPPeer) sysfs(attr, v string) error {
	p := "/sys/class/net/" + k.ifi.Name + "/" + attr
	old, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(p, []byte(v), 0); err != nil {
		return fmt.Errorf("write %s = %s: %w", p, v, err)
	}
	k.restore[p] = strings.TrimSpace(string(old))
	return nil
}

// Name is the interface name.
func (k *KernelUDPPeer) Name() string { return k.ifi.Name }

// Serve answers datagrams with srv until stop returns true (checked at
// least every 200 ms).
func (k *KernelUDPPeer) Serve(srv *Server, stop func() bool) error {
	events := make([]unix.EpollEvent, 1)
	for !stop() {
		if k.epfd >= 0 {
			// The epoll instance busy polls the socket's NAPI before it sleeps.
			if _, err := unix.EpollWait(k.epfd, events, 200); err != nil && err != unix.EINTR {
				return os.NewSyscallError("epoll_wait", err)
			}
		}
		for {
			n, err := k.m.recv(k.fd, k.epfd >= 0)
			if err == unix.EAGAIN || err == unix.EINTR {
				break
			}
			if err != nil {
				return os.NewSyscallError("recvmmsg", err)
			}
			if (k.mode == KModeUDPSuspend || k.mode == KModeUDPThreadedBusy) && k.napiID == 0 {
				if err := k.setNAPI(); err != nil {
					return err
				}
			}
			out := 0
			for i := range n {
				if srv.ServePayload(k.m.datagram(i)) {
					k.m.setOut(out, i)
					out++
				}
			}
			if out > 0 {
				if err := k.m.send(k.fd, out); err != nil && err != unix.EAGAIN && err != unix.ENOBUFS {
					return os.NewSyscallError("sendmmsg", err)
				}
			}
			if k.epfd < 0 {
				break // blocking: back to the stop check
			}
		}
	}
	return nil
}

// setNAPI gives the socket's NAPI instance (known once a datagram came
// through it) its irq_suspend_timeout, or makes its thread busy poll.
func (k *KernelUDPPeer) setNAPI() error {
	id, err := unix.GetsockoptInt(k.fd, unix.SOL_SOCKET, unix.SO_INCOMING_NAPI_ID)
	if err != nil || id == 0 {
		return fmt.Errorf("SO_INCOMING_NAPI_ID: %d, %v", id, err)
	}
	attr, v, name := uint16(netdevANapiIRQSuspendTimeout), uint32(udpIRQSuspendTimeout), "irq_suspend_timeout"
	if k.mode == KModeUDPThreadedBusy {
		attr, v, name = netdevANapiThreaded, netdevNapiThreadedBusyPoll, "threaded"
	}
	if err := napiSet(uint32(id), attr, v); err != nil {
		return fmt.Errorf("napi %d %s: %w", id, name, err)
	}
	k.napiID, k.napiAttr = uint32(id), attr
	k.Note += fmt.Sprintf(" napi=%d %s=%d", id, name, v)
	return nil
}

// Close closes the socket and puts back what open changed: the knobs and
// the address.
func (k *KernelUDPPeer) Close() error {
	if k.epfd >= 0 {
		unix.Close(k.epfd)
	}
	if k.fd >= 0 {
		unix.Close(k.fd)
	}
	if k.napiID != 0 {
		_ = napiSet(k.napiID, k.napiAttr, 0) // no suspension; threaded disabled
	}
	for p, v := range k.restore {
		_ = os.WriteFile(p, []byte(v), 0)
	}
	if ctl, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err == nil {
		if ifr, err := unix.NewIfreq(k.ifi.Name); err == nil && ifr.SetInet4Addr([]byte{0, 0, 0, 0}) == nil {
			_ = unix.IoctlIfreq(ctl, unix.SIOCSIFADDR, ifr) // 0.0.0.0 removes the address
		}
		unix.Close(ctl)
	}
	return nil
}

// kernelIface finds the interface of the PCI device bdf (bound to a kernel
// driver), brings it up and waits for carrier.
func kernelIface(bdf string) (*net.Interface, error) {
	ifs, _ := filepath.Glob("/sys/bus/pci/devices/" + bdf + "/net/*")
	if len(ifs) != 1 {
		return nil, fmt.Errorf("network interfaces of %s: %v", bdf, ifs)
	}
	name := ifs[0][strings.LastIndexByte(ifs[0], '/')+1:]
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	if err := netif.Up(ifi.Name); err != nil {
		return nil, fmt.Errorf("bring %s up: %w", ifi.Name, err)
	}
	carrier := "/sys/class/net/" + ifi.Name + "/carrier"
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(carrier); strings.TrimSpace(string(b)) == "1" {
			return ifi, nil
		}
		if time.Since(start) > 20*time.Second {
			return nil, fmt.Errorf("%s: no carrier after 20s", ifi.Name)
		}
	}
}
