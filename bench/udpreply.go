package bench

import (
	"encoding/binary"

	"github.com/uiodrv/uiodrv/internal/testframe"
)

// The kernel's UDP responders (udppeer_linux.go) answer through the guest
// kernel's own stack: their replies are UDP datagrams the kernel built, from
// 10.2.0.1 port testframe.Port back to the flow's address and port, with
// the kernel's own IPv4 identification, flags and UDP checksum. The host
// takes them for bench frames by their addresses and ports; the payload is
// the bench payload, as in a reflected frame.

// ServerIP is the address the UDP responders' interface gets: the
// destination address of every flow (testframe.Tuple).
var ServerIP = [4]byte{10, 2, 0, 1}

// parseUDPReply returns the flow and the UDP payload of a reply from a
// kernel UDP responder; ok is false for anything else.
func parseUDPReply(f []byte) (flow int, p []byte, ok bool) {
	if len(f) < testframe.HeaderLen || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[14] != 0x45 || f[23] != 17 {
		return 0, nil, false
	}
	if [4]byte(f[26:30]) != ServerIP || f[30] != 10 || f[31] != 1 {
		return 0, nil, false
	}
	flow = int(f[32])<<8 | int(f[33])
	_, _, sport, dport := testframe.Tuple(flow)
	if binary.BigEndian.Uint16(f[34:]) != dport || binary.BigEndian.Uint16(f[36:]) != sport {
		return 0, nil, false
	}
	n := int(binary.BigEndian.Uint16(f[38:]))
	if n < 8 || 34+n > len(f) {
		return 0, nil, false
	}
	return flow, f[testframe.HeaderLen : 34+n], true
}

// The kernel's UDP responders, one per packet mode of the guest kernel,
// each set up as the kernel's Documentation/networking/napi.rst describes
// (udppeer_linux.go).
const (
	// KModeUDP: NAPI with the kernel's defaults (softirq, interrupts re-armed
	// after every poll that finishes under budget); a blocking recvmmsg loop.
	KModeUDP = "udp"
	// KModeUDPThreaded: threaded NAPI (/sys/class/net/IF/threaded = 1): the
	// poll runs in a kernel thread per NAPI instead of softirq.
	KModeUDPThreaded = "udp-threaded"
	// KModeUDPBusyPoll: preferred busy polling: napi_defer_hard_irqs and
	// gro_flush_timeout set, and an epoll instance with EPIOCSPARAMS
	// (busy_poll_usecs, budget, prefer_busy_poll) driving a non-blocking
	// recvmmsg loop.
	KModeUDPBusyPoll = "udp-busypoll"
	// KModeUDPSuspend: IRQ suspension: KModeUDPBusyPoll plus the NAPI's
	// irq_suspend_timeout, set through the netdev generic netlink family
	// (6.13 and later).
	KModeUDPSuspend = "udp-suspend"
	// KModeUDPThreadedBusy: threaded busy poll (6.19 and later): the NAPI's
	// threaded attribute set to busy-poll through the netdev family, so its
	// kernel thread polls without ever re-arming the interrupt; a blocking
	// recvmmsg loop.
	KModeUDPThreadedBusy = "udp-threaded-busypoll"
)

// KernelUDPModes lists the kernel's UDP responders.
var KernelUDPModes = []string{KModeUDP, KModeUDPThreaded, KModeUDPBusyPoll, KModeUDPSuspend, KModeUDPThreadedBusy}
