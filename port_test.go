package uiodrv

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
)

// orderDev records the order in which the NIC and the device close.
type orderDev struct {
	*drivertest.FakeDevice
	log *[]string
}

type orderNIC struct {
	*drivertest.Fake
	log *[]string
}

func (n orderNIC) Close() error { *n.log = append(*n.log, "nic"); return n.Fake.Close() }

func (d orderDev) Queues() (driver.NIC, driver.Buffers) {
	return orderNIC{d.Fake, d.log}, d.Pool
}

func (d orderDev) Close() error {
	*d.log = append(*d.log, "device")
	return d.FakeDevice.Close()
}

func fakeDev(t *testing.T) *drivertest.FakeDevice {
	t.Helper()
	d, err := drivertest.NewFakeDevice(drivertest.FakeOptions{IRQ: true}, 256)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var swap = HandlerFunc(func(pkts []Packet) {
	for i := range pkts {
		d := pkts[i].Data
		var m [6]byte
		copy(m[:], d[:6])
		copy(d[:6], d[6:12])
		copy(d[6:12], m[:])
		pkts[i].Verdict = Transmit
	}
})

// TestNewPortCloseOrder: frames cross a port from NewPort; Close stops the
// port (the NIC) before it releases the device, once however often it is
// called.
func TestNewPortCloseOrder(t *testing.T) {
	var log []string
	d := orderDev{fakeDev(t), &log}
	p, err := NewPort(d, Config{Handler: swap, CPUs: []int{-1}})
	if err != nil {
		t.Fatal(err)
	}
	in := append(bytes.Repeat([]byte{1}, 6), bytes.Repeat([]byte{2}, 54)...)
	if err := d.Wire().Send(in); err != nil {
		t.Fatal(err)
	}
	out := d.Await(1, 5*time.Second)
	want := append(bytes.Repeat([]byte{2}, 6), append(bytes.Repeat([]byte{1}, 6), bytes.Repeat([]byte{2}, 48)...)...)
	if len(out) != 1 || !bytes.Equal(out[0], want) {
		t.Fatalf("sent % x, got %x", in, out)
	}
	for i := 0; i < 3; i++ {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(log) < 2 || log[0] != "nic" || log[len(log)-1] != "device" {
		t.Fatalf("close order %v: want the NIC first, the device last", log)
	}
	if n := len(log); n != 3 && n != 2 {
		t.Fatalf("closes %v: three Close calls closed more than once", log)
	}
}

// TestBadConfigTouchesNothing: bad input is refused before the device is
// probed or opened (the address does not exist: a probe would fail with
// another error).
func TestBadConfigTouchesNothing(t *testing.T) {
	closedPort := &Port{isClosed: true}
	for _, c := range []Config{
		{Mode: -1}, {Mode: 99}, {Budget: -1}, {Budget: driver.MaxBudget + 1}, {RTPrio: 100},
		{CPUs: []int{0, 1}}, {CPUs: []int{-2}}, {Device: driver.OpenOptions{Queues: -1}},
		{Forward: closedPort},
	} {
		if _, err := Open("0000:ff:1f.7", c); !errors.Is(err, driver.ErrBadConfig) {
			t.Errorf("Open(%+v) = %v, want ErrBadConfig", c, err)
		}
	}
	d := fakeDev(t)
	if _, err := NewPort(d, Config{Budget: -1}); !errors.Is(err, driver.ErrBadConfig) {
		t.Fatalf("NewPort with a bad budget: %v", err)
	}
	if err := d.Wire().Send(make([]byte, 60)); err == nil {
		t.Fatal("a refused NewPort left the device open")
	}
}

// TestForwardEachOtherClose: two ports forward to each other; closing
// one detaches the other (its Forward verdicts are dropped, counted), and
// the survivor keeps running.
func TestForwardEachOtherClose(t *testing.T) {
	da, db := fakeDev(t), fakeDev(t)
	fwd := HandlerFunc(func(pkts []Packet) {
		for i := range pkts {
			pkts[i].Verdict = Forward
		}
	})
	a, err := NewPort(da, Config{Handler: fwd, CPUs: []int{-1}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewPort(db, Config{Handler: fwd, CPUs: []int{-1}, Forward: a})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetForward(b); err != nil {
		t.Fatal(err)
	}
	frame := bytes.Repeat([]byte{7}, 64)
	if err := da.Wire().Send(frame); err != nil {
		t.Fatal(err)
	}
	if got := db.Await(1, 5*time.Second); len(got) != 1 || !bytes.Equal(got[0], frame) {
		t.Fatalf("a -> b: %x", got)
	}
	if err := db.Wire().Send(frame); err != nil {
		t.Fatal(err)
	}
	if got := da.Await(1, 5*time.Second); len(got) != 1 || !bytes.Equal(got[0], frame) {
		t.Fatalf("b -> a: %x", got)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.SetForward(a); err == nil {
		t.Fatal("SetForward to a closed port succeeded")
	}
	if err := db.Wire().Send(frame); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := b.Stats(); st.TxDropped != 1; st = b.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("b after a closed: %v, want 1 tx dropped", &st)
		}
		time.Sleep(time.Millisecond)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestNewPortCPUsPerQueue: NewPort counts CPUs against the opened device's
// queues (Config.Device is not used there).
func TestNewPortCPUsPerQueue(t *testing.T) {
	d, err := drivertest.NewFakeDevice(drivertest.FakeOptions{IRQ: true, Queues: 2}, 512)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPort(d, Config{CPUs: []int{-1, -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := fakeDev(t)
	if _, err := NewPort(d2, Config{CPUs: []int{-1, -1}}); !errors.Is(err, driver.ErrBadConfig) {
		t.Fatalf("two CPUs for one queue: %v", err)
	}
}
