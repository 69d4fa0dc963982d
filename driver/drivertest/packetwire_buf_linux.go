package drivertest

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// SetReadBuffer sets the packet socket's receive buffer to bytes
// (SO_RCVBUFFORCE: root, past net.core.rmem_max). The default (about 200 KiB)
// holds only about a hundred frames, since each costs its 2 KiB driver buffer
// and more; the kit's transmit check sends 300 before it collects them.
func (w *PacketWire) SetReadBuffer(bytes int) error {
	if err := unix.SetsockoptInt(w.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bytes); err != nil {
		return fmt.Errorf("packet socket receive buffer of %d bytes: %w", bytes, err)
	}
	return nil
}
