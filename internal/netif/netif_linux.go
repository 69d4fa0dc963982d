// Package netif brings a kernel network interface up for the lab's packet
// sockets: the one interface-up helper of the bench, the lab's own tests and
// the conformance kit's wire.
package netif

import "github.com/uiodrv/uiodrv/internal/unix"

// Up sets IFF_UP on the interface (SIOCGIFFLAGS, then SIOCSIFFLAGS).
func Up(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// Htons is a 16-bit value in network byte order, as AF_PACKET's protocol
// fields want it.
func Htons(v uint16) uint16 { return v<<8 | v>>8 }
