package virtio

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/internal/unix"
)

// TestRaiseAllocatesNothing: the software interrupt virtio-net raises on
// the packet path (a kick of its own top half) allocates nothing.
func TestRaiseAllocatesNothing(t *testing.T) {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	n := &NIC{opts: Options{Vectors: []driver.Vector{{Name: "q0", Fd: efd}}}}
	if a := testing.AllocsPerRun(100, func() { n.raise(0) }); a != 0 {
		t.Errorf("raise allocates %.1f times", a)
	}
	var cnt [8]byte
	if k, err := unix.Read(efd, cnt[:]); err != nil || k != 8 || cnt[0] == 0 {
		t.Fatalf("the eventfd was not written: %d bytes, %v, count %v", k, err, cnt)
	}
}
