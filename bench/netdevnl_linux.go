package bench

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The netdev generic netlink family (include/uapi/linux/netdev.h): the only
// interface to a NAPI instance's irq_suspend_timeout. A minimal client: one
// request, one acknowledgement.
const (
	netdevCmdNapiSet             = 14 // NETDEV_CMD_NAPI_SET
	netdevANapiID                = 2  // NETDEV_A_NAPI_ID
	netdevANapiIRQSuspendTimeout = 7  // NETDEV_A_NAPI_IRQ_SUSPEND_TIMEOUT
	netdevANapiThreaded          = 8  // NETDEV_A_NAPI_THREADED (6.17)
	netdevNapiThreadedBusyPoll   = 2  // NETDEV_NAPI_THREADED_BUSY_POLL (6.19)
	ctrlAttrFamilyID             = 1  // CTRL_ATTR_FAMILY_ID
	ctrlAttrFamilyName           = 2  // CTRL_ATTR_FAMILY_NAME
)

// nlAttr appends a netlink attribute, padded to 4 bytes.
func nlAttr(b []byte, typ uint16, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(4+len(v)))
	b = binary.LittleEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// genlMsg is a request: netlink header, generic netlink header, attributes.
func genlMsg(family uint16, cmd uint8, seq uint32, attrs []byte) []byte {
	b := make([]byte, 16, 20+len(attrs))
	binary.LittleEndian.PutUint32(b[0:], uint32(20+len(attrs)))
	binary.LittleEndian.PutUint16(b[4:], family)
	binary.LittleEndian.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.LittleEndian.PutUint32(b[8:], seq)
	b = append(b, cmd, 1, 0, 0)
	return append(b, attrs...)
}

// genlRequest sends msg and returns the first reply that is not an
// acknowledgement (nil if there was none), or the error the kernel returned.
func genlRequest(fd int, msg []byte) ([]byte, error) {
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto", err)
	}
	var reply []byte
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, os.NewSyscallError("recvfrom", err)
		}
		for b := buf[:n]; len(b) >= 16; {
			l := int(binary.LittleEndian.Uint32(b))
			if l < 16 || l > len(b) {
				return nil, fmt.Errorf("netlink: bad message length %d", l)
			}
			if binary.LittleEndian.Uint16(b[4:]) == unix.NLMSG_ERROR {
				if e := int32(binary.LittleEndian.Uint32(b[16:])); e != 0 {
					return nil, unix.Errno(-e)
				}
				return reply, nil // the acknowledgement ends the exchange
			}
			reply = append([]byte(nil), b[:l]...)
			b = b[(l+3)&^3:]
		}
	}
}

// genlFamily resolves a generic netlink family's id.
func genlFamily(fd int, name string) (uint16, error) {
	reply, err := genlRequest(fd, genlMsg(unix.GENL_ID_CTRL, unix.CTRL_CMD_GETFAMILY, 1, nlAttr(nil, ctrlAttrFamilyName, append([]byte(name), 0))))
	if err != nil {
		return 0, fmt.Errorf("family %s: %w", name, err)
	}
	for a := reply[min(20, len(reply)):]; len(a) >= 4; {
		l := int(binary.LittleEndian.Uint16(a))
		if l < 4 || l > len(a) {
			break
		}
		if binary.LittleEndian.Uint16(a[2:])&0x3fff == ctrlAttrFamilyID && l >= 6 {
			return binary.LittleEndian.Uint16(a[4:]), nil
		}
		a = a[min((l+3)&^3, len(a)):]
	}
	return 0, fmt.Errorf("family %s: no id in the reply (kernel without it?)", name)
}

// napiSet sets one u32 attribute of a NAPI instance (NETDEV_CMD_NAPI_SET).
func napiSet(id uint32, attr uint16, v uint32) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return os.NewSyscallError("bind", err)
	}
	fam, err := genlFamily(fd, "netdev")
	if err != nil {
		return err
	}
	attrs := nlAttr(nil, netdevANapiID, binary.LittleEndian.AppendUint32(nil, id))
	attrs = nlAttr(attrs, attr, binary.LittleEndian.AppendUint32(nil, v))
	_, err = genlRequest(fd, genlMsg(fam, netdevCmdNapiSet, 2, attrs))
	return err
}
