package bench

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpMmsg is mmsg for a UDP socket: each datagram's source address is kept
// and its reply goes back to it.
type udpMmsg struct {
	bufs  [][]byte
	names []unix.RawSockaddrInet4
	rio   []unix.Iovec
	rhdr  []mmsghdr
	sio   []unix.Iovec
	shdr  []mmsghdr
}

func newUDPMmsg(n, size int) *udpMmsg {
	m := &udpMmsg{bufs: make([][]byte, n), names: make([]unix.RawSockaddrInet4, n), rio: make([]unix.Iovec, n),
		rhdr: make([]mmsghdr, n), sio: make([]unix.Iovec, n), shdr: make([]mmsghdr, n)}
	for i := range n {
		m.bufs[i] = make([]byte, size)
		m.rio[i].Base = &m.bufs[i][0]
		m.rio[i].SetLen(size)
		m.rhdr[i].hdr.Iov = &m.rio[i]
		m.rhdr[i].hdr.SetIovlen(1)
		m.rhdr[i].hdr.Name = (*byte)(unsafe.Pointer(&m.names[i]))
		m.shdr[i].hdr.Iov = &m.sio[i]
		m.shdr[i].hdr.SetIovlen(1)
		m.shdr[i].hdr.Namelen = unix.SizeofSockaddrInet4
	}
	return m
}

// recv takes the queued datagrams, up to the batch: at least one, blocking
// up to SO_RCVTIMEO, unless nonblock.
func (m *udpMmsg) recv(fd int, nonblock bool) (int, error) {
	for i := range m.rhdr {
		m.rhdr[i].hdr.Namelen = unix.SizeofSockaddrInet4
	}
	flags := uintptr(unix.MSG_WAITFORONE)
	if nonblock {
		flags = unix.MSG_DONTWAIT
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.rhdr[0])),
		uintptr(len(m.rhdr)), flags, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func (m *udpMmsg) datagram(i int) []byte { return m.bufs[i][:m.rhdr[i].len] }

// setOut makes reply out datagram i, in place, to its sender.
func (m *udpMmsg) setOut(out, i int) {
	m.sio[out].Base = &m.bufs[i][0]
	m.sio[out].SetLen(int(m.rhdr[i].len))
	m.shdr[out].hdr.Name = (*byte)(unsafe.Pointer(&m.names[i]))
}

// send transmits the first n replies set with setOut.
func (m *udpMmsg) send(fd int, n int) error {
	for off := 0; off < n; {
		k, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.shdr[off])),
			uintptr(n-off), 0, 0, 0)
		if errno != 0 {
			return errno
		}
		off += int(k)
	}
	return nil
}

// epollParams is struct epoll_params (linux/eventpoll.h, 6.9).
type epollParams struct {
	usecs  uint32
	budget uint16
	prefer uint8
	_      uint8
}

// setEpollParams sets an epoll instance's busy polling (EPIOCSPARAMS).
func setEpollParams(epfd int, usecs uint32, budget uint16, prefer bool) error {
	p := epollParams{usecs: usecs, budget: budget}
	if prefer {
		p.prefer = 1
	}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(epfd), unix.EPIOCSPARAMS, uintptr(unsafe.Pointer(&p)))
	if errno != 0 {
		return errno
	}
	return nil
}

// arpreq is struct arpreq (net/if_arp.h).
type arpreq struct {
	pa      unix.RawSockaddrInet4
	ha      unix.RawSockaddr
	flags   int32
	netmask unix.RawSockaddr
	dev     [16]byte
}

// setNeighbour adds a permanent ARP entry ip -> mac on dev (SIOCSARP), with
// ctl any AF_INET socket.
func setNeighbour(ctl int, dev string, ip [4]byte, mac [6]byte) error {
	r := arpreq{flags: 0x02 | 0x04} // ATF_COM | ATF_PERM
	r.pa.Family, r.pa.Addr = unix.AF_INET, ip
	r.ha.Family = unix.ARPHRD_ETHER
	for i, b := range mac {
		r.ha.Data[i] = int8(b)
	}
	copy(r.dev[:15], dev)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(ctl), unix.SIOCSARP, uintptr(unsafe.Pointer(&r)))
	if errno != 0 {
		return errno
	}
	return nil
}
