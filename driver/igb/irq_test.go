package igb_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/igb"
)

// fired reports whether the eventfd fd has an event, and consumes it.
func fired(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(p, 50)
	for err == unix.EINTR { // the Go runtime's preemption signal, not an event
		n, err = unix.Poll(p, 50)
	}
	if n <= 0 || p[0].Revents&unix.POLLIN == 0 {
		return false
	}
	var b [8]byte
	_, _ = unix.Read(fd, b[:])
	return true
}

// A link change fires the other vector, whose AckIRQ reports it; SetIRQ
// masks a queue vector through EIMC and a frame then fires only once it is
// unmasked; Trigger fires through EICS.
func TestIRQRouting(t *testing.T) {
	f := newFakeNIC(t, igb.Options{Queues: 2})
	vs := f.nic.Info().Vectors
	for _, v := range vs {
		fired(v.Fd) // the link came up during init
	}
	f.dev.SetLink(false)
	if !fired(vs[2].Fd) || fired(vs[0].Fd) || fired(vs[1].Fd) {
		t.Fatal("a link change did not fire the other vector alone")
	}
	if c := f.nic.AckIRQ(2); c != driver.CauseLink {
		t.Errorf("AckIRQ(other) = %v, want link", c)
	}
	if up, _ := f.nic.Link(); up {
		t.Error("link still up")
	}
	f.dev.SetLink(true)
	if !fired(vs[2].Fd) {
		t.Error("a second link change did not fire the other vector (EIAC must clear its cause)")
	}

	frame := make([]byte, 60) // no IP: RSS puts it on queue 0
	f.nic.SetIRQ(0, driver.CauseRX, false)
	if f.dev.Reg(igb.EIMS)&1 != 0 {
		t.Fatalf("EIMS %#x: vector 0 still unmasked", f.dev.Reg(igb.EIMS))
	}
	f.dev.Receive(frame)
	if fired(vs[0].Fd) {
		t.Fatal("masked vector 0 fired")
	}
	f.nic.SetIRQ(0, driver.CauseRX, true)
	if !fired(vs[0].Fd) {
		t.Fatal("the frame that arrived while masked did not fire on unmask")
	}
	f.nic.Trigger(1)
	if !fired(vs[1].Fd) || fired(vs[0].Fd) {
		t.Fatal("Trigger(1) did not fire vector 1 alone")
	}
}
