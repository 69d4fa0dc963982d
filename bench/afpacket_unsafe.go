package bench

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr (linux/socket.h) on amd64.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// mmsg holds the receive and send vectors of recvmmsg/sendmmsg. Received
// frames are sent back from the same buffers (in place), so the send vector
// points into the receive buffers.
type mmsg struct {
	bufs [][]byte
	rio  []unix.Iovec
	rhdr []mmsghdr
	sio  []unix.Iovec
	shdr []mmsghdr
}

func newMmsg(n, size int) *mmsg {
	m := &mmsg{bufs: make([][]byte, n), rio: make([]unix.Iovec, n), rhdr: make([]mmsghdr, n),
		sio: make([]unix.Iovec, n), shdr: make([]mmsghdr, n)}
	for i := range n {
		m.bufs[i] = make([]byte, size)
		m.rio[i].Base = &m.bufs[i][0]
		m.rio[i].SetLen(size)
		m.rhdr[i].hdr.Iov = &m.rio[i]
		m.rhdr[i].hdr.SetIovlen(1)
		m.shdr[i].hdr.Iov = &m.sio[i]
		m.shdr[i].hdr.SetIovlen(1)
	}
	return m
}

// recv blocks (up to SO_RCVTIMEO) for at least one frame and takes as many as
// are queued, up to the batch.
func (m *mmsg) recv(fd int) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.rhdr[0])),
		uintptr(len(m.rhdr)), unix.MSG_WAITFORONE, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func (m *mmsg) frame(i int) []byte { return m.bufs[i][:m.rhdr[i].len] }

func (m *mmsg) setOut(out, i, n int) {
	m.sio[out].Base = &m.bufs[i][0]
	m.sio[out].SetLen(n)
}

// send transmits the first n frames set with setOut, retrying the rest of a
// partial send.
func (m *mmsg) send(fd int, n int) error {
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
