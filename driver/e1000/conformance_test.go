package e1000_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/e1000/e1000test"
)

// fakeWire is the far side of an e1000test device.
func fakeWire(dev *e1000test.Device) drivertest.Wire {
	return drivertest.ModelWire{Receive: dev.Receive, Transmit: func() [][]byte { return dev.Transmit(0) }}
}

// The e1000 and e1000e behind the queue-based interface pass the conformance
// kit on the fake register file. (The fake has no interrupt lines: the
// interrupt check runs in the lab.)
func TestConformanceFake(t *testing.T) {
	for _, m := range []e1000.Model{e1000.Model82540EM, e1000.Model82574L} {
		t.Run(m.String(), func(t *testing.T) {
			drivertest.Run(t, func(t *testing.T) *drivertest.Harness {
				n, dev, _ := newNIC(t, m, e1000.Options{RxRingSize: 64, TxRingSize: 64})
				dev.SetLogging(false)
				return &drivertest.Harness{NIC: n, Buffers: n.Pool(), Wire: fakeWire(dev)}
			})
		})
	}
}
