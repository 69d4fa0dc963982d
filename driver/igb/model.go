package igb

import (
	"errors"
	"fmt"
)

// ErrUnsupportedDevice is returned for a PCI ID the driver does not know.
var ErrUnsupportedDevice = errors.New("igb: unsupported device")

// ivarLayout says where a queue's entries sit in the IVAR0 array.
type ivarLayout int

const (
	// ivar82576: queue q (< 8) in IVAR0[q] bytes 0 (RX) and 1 (TX); queue
	// 8+q in bytes 2 and 3 of IVAR0[q] (82576 8.8.15; igb_assign_vector).
	ivar82576 ivarLayout = iota
	// ivar82580: queue q in IVAR0[q/2], RX at byte 2*(q&1), TX one byte up
	// (I350 8.8.15, I210 8.8.15; igb_assign_vector's 82580/I350/I210 case).
	ivar82580
)

// Model is one member of the family: its name, queue count and what differs
// in its init. Only the 82576 is verified, in QEMU (see doc.go).
type Model struct {
	Name      string
	MaxQueues int // RX/TX queue pairs on the real part
	ivar      ivarLayout
	Verified  bool // driven in the lab (QEMU's igb), not only written from the datasheet
}

var (
	Model82576 = Model{Name: "82576", MaxQueues: 16, ivar: ivar82576, Verified: true}
	ModelI350  = Model{Name: "I350", MaxQueues: 8, ivar: ivar82580}
	ModelI210  = Model{Name: "I210", MaxQueues: 4, ivar: ivar82580}
	ModelI211  = Model{Name: "I211", MaxQueues: 2, ivar: ivar82580}
)

func (m Model) String() string { return m.Name }

// VendorIntel is Intel's PCI vendor ID.
const VendorIntel = 0x8086

// deviceIDs maps PCI device IDs (Linux e1000_hw.h E1000_DEV_ID_*) to models.
var deviceIDs = map[uint16]Model{
	0x10C9: Model82576, // 82576 copper (QEMU's igb)
	0x10E6: Model82576, // 82576 fiber
	0x10E7: Model82576, // 82576 serdes
	0x10E8: Model82576, // 82576 quad copper
	0x1526: Model82576, // 82576 quad copper ET2
	0x150A: Model82576, // 82576 NS
	0x1521: ModelI350,  // I350 copper
	0x1522: ModelI350,  // I350 fiber
	0x1523: ModelI350,  // I350 serdes
	0x1524: ModelI350,  // I350 SGMII
	0x1533: ModelI210,  // I210 copper
	0x1536: ModelI210,  // I210 fiber
	0x1537: ModelI210,  // I210 serdes
	0x1538: ModelI210,  // I210 SGMII
	0x157B: ModelI210,  // I210 copper, flash-less
	0x157C: ModelI210,  // I210 serdes, flash-less
	0x1539: ModelI211,  // I211 copper
}

// LookupModel returns the model of a PCI vendor/device ID.
func LookupModel(vendor, device uint16) (Model, error) {
	if m, ok := deviceIDs[device]; ok && vendor == VendorIntel {
		return m, nil
	}
	return Model{}, fmt.Errorf("%w: %04x:%04x", ErrUnsupportedDevice, vendor, device)
}

// ivarEntry is the IVAR0 register and bit shift of queue q's RX entry; its
// TX entry is 8 bits above.
func (m Model) ivarEntry(q int) (reg int, shift uint) {
	if m.ivar == ivar82580 {
		return q >> 1, uint(q&1) * 16
	}
	return q & 7, uint(q&8) * 2
}
