package e1000

import "github.com/uiodrv/uiodrv/driver"

// NewTestDevice wraps an initialised NIC on a fake register file as a Device
// with the given vectors (none: the fake has no interrupt lines).
func NewTestDevice(n *NIC, msix bool, vectors []driver.Vector) *Device {
	d := &Device{nic: n, causes: n.Causes(), msix: msix, vectors: vectors,
		rxScratch: make([]RxPacket, 256), txScratch: make([]TxPacket, 256)}
	d.setRearm()
	return d
}
