package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/mmio"
)

// A forced exit (second signal) clears more than Bus Master Enable on a UIO
// run: uio_pci_generic leaves RCTL.EN and the ring's physical address in
// the NIC, and the next run's window before its reset would let the NIC use
// them. So the guard maps BAR0 itself through sysfs (resource0; a mapping
// of its own that the port's Close cannot unmap under it) and, on a forced
// exit, masks the NIC's interrupts and clears RX and TX enable before it
// turns bus mastering off. A VFIO run needs none of this: vfio-pci resets
// the device when the process's fd closes.

// armStopRX maps a's BAR0 and gives the guard the family's stop for it. A
// failure is kept and reported by stopDMA; the run goes on.
func (g *busGuard) armStopRX(s bus.Sysfs, a bus.Addr, m nicModel) {
	if m.Found == nil || m.Family == nil {
		return
	}
	stop := m.Family.StopDMA
	if stop == nil {
		return
	}
	mem, err := mapResource0(filepath.Join(s.DevicePath(a), "resource0"))
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range g.devs {
		if g.devs[i].addr != a {
			continue
		}
		if err != nil {
			g.devs[i].rxErr = err
			return
		}
		bar := mmio.NewBAR(mem)
		g.devs[i].stopRX = func() { stop(bar) }
		g.devs[i].unmap = func() { unix.Munmap(mem) }
		return
	}
	if err == nil {
		unix.Munmap(mem)
	}
}

func mapResource0(p string) ([]byte, error) {
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_SYNC|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("map BAR0 for the forced exit: %w", err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("map BAR0 for the forced exit: %w", os.NewSyscallError("fstat", err))
	}
	if st.Size < 0x1000 {
		return nil, fmt.Errorf("map BAR0 for the forced exit: %s is %d bytes", p, st.Size)
	}
	mem, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map BAR0 for the forced exit: %w", os.NewSyscallError("mmap", err))
	}
	return mem, nil
}
