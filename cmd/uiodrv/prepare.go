package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/pci"
)

// Everything a run can get wrong without the device is checked, and every
// file and socket it needs is opened, before the device is: a run that
// cannot work fails with the device untouched (never opened, reset or
// initialised). validate (run.go) checks the command line; prepare checks
// the machine and opens the metrics listener and the pcap file.

// prepared is what a run holds before it opens a device.
type prepared struct {
	metrics  net.Listener // nil without --metrics; served once the port runs
	pcap     *os.File     // nil without --pcap; owned by the capture once made
	pcapMade bool         // the run created the file: removed if the device never ran
	guard    *busGuard
}

// targets are the devices a run opens: --dev, and --fwd-dev with forward.
func (f *runFlags) targets() []target {
	ts := []target{{addr: f.addr, backend: f.parsedBack, hugepages: f.hugepages, ringSize: f.ringSize, queues: f.queues}}
	if f.fwdDev != "" {
		ts = append(ts, target{addr: f.fwdAdr, backend: f.parsedBack, hugepages: f.hugepages, ringSize: f.ringSize, queues: 1})
	}
	return ts
}

// prepare runs the preflight checks and opens what the run needs besides the
// device. On error everything it opened is closed again.
func prepare(f *runFlags, s pci.Sysfs, lim limits, guard *busGuard) (_ *prepared, err error) {
	for _, t := range f.targets() {
		dev, err := checkDevice(s, t)
		if err != nil {
			return nil, err
		}
		if err := checkFeatures(dev, t, f); err != nil {
			return nil, err
		}
	}
	if err := checkMemory(s, lim, f.targets()); err != nil {
		return nil, err
	}
	if err := checkSched(lim, f.parsedMode, f.rtPrio, f.threadPrio); err != nil {
		return nil, err
	}
	p := &prepared{guard: guard}
	defer func() {
		if err != nil {
			p.release(true)
		}
	}()
	if f.metrics != "" {
		if p.metrics, err = net.Listen("tcp", f.metrics); err != nil {
			return nil, fmt.Errorf("--metrics %s: %w (pick a free port, or leave --metrics out)", f.metrics, err)
		}
	}
	if f.pcap != "" {
		if p.pcap, p.pcapMade, err = openPcap(f.pcap, f.pcapOverwrite); err != nil {
			return nil, err
		}
	}
	for _, t := range f.targets() {
		p.guard.add(s, t.addr)
		if t.backend == driver.BackendUIO {
			p.guard.armStopRX(s, t.addr, f.models[t.addr.String()].family)
		}
	}
	return p, nil
}

// release closes what the run did not hand on. failed says that the device
// never ran: then a pcap file this run created is removed again.
func (p *prepared) release(failed bool) {
	if p.metrics != nil {
		p.metrics.Close()
		p.metrics = nil
	}
	if p.pcap != nil {
		p.pcap.Close()
		if failed && p.pcapMade {
			os.Remove(p.pcap.Name())
		}
		p.pcap = nil
	}
	p.guard.close()
}

// capture turns the opened pcap file into the capture handler; the capture
// owns the file from then on.
func (p *prepared) capture() (*driver.Capture, error) {
	fh := p.pcap
	p.pcap = nil
	c, err := driver.NewCaptureFile(fh)
	if err != nil {
		if p.pcapMade {
			os.Remove(fh.Name())
		}
		return nil, fmt.Errorf("--pcap: %w", err)
	}
	return c, nil
}

// checkFeatures refuses options the device's model cannot do, from the
// device ID in sysfs: the NIC is never opened to find out. It records the
// model, which picks the driver that openDevice uses.
func checkFeatures(dev *pci.Device, t target, f *runFlags) error {
	m, err := lookupNIC(dev.Vendor, dev.DeviceID)
	if err != nil {
		return err // checkDevice reports it first, with the device's name
	}
	if f.models == nil {
		f.models = map[string]nicModel{}
	}
	f.models[dev.Addr.String()] = m
	// Of the e1000 family only the 82574L has MSI-X (its IVAR routes the
	// causes, 82574 10.2.4.9); the igb family always uses it.
	if f.msix && !m.msix {
		return usagef("--msix: %s is an %v, which has no MSI-X (only the 82574L, QEMU's e1000e, has it): leave --msix out",
			dev.Addr, m)
	}
	if err := checkQueues(dev.Addr.String(), m, t.queues); err != nil {
		return err
	}
	if m.family == familyIGB && t.backend != driver.BackendVFIO && f.parsedMode != deferral.ModeBusyPoll {
		return usagef("--backend %v: %s is an %v, whose interrupts are MSI-X, which uio_pci_generic cannot deliver: use --backend vfio, or --mode busypoll",
			t.backend, dev.Addr, m)
	}
	return nil
}

// errPcapExists: --pcap names a file that exists and --pcap-overwrite is not given.
var errPcapExists = errors.New("pcap file exists")

// openPcap opens the capture file the safe way for a process that may run
// as root: it never follows a symbolic link (O_NOFOLLOW), creates the file
// with mode 0600 (frames can hold anything), refuses an existing file unless
// overwrite (O_EXCL), and never blocks on a FIFO (O_NONBLOCK, then only a
// regular file is accepted). It reports whether it created the file.
func openPcap(path string, overwrite bool) (_ *os.File, created bool, err error) {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	if !overwrite {
		flags |= unix.O_EXCL
	}
	fd, err := unix.Open(path, flags, 0o600)
	switch {
	case errors.Is(err, unix.EEXIST):
		return nil, false, fmt.Errorf("%w: --pcap %s: it exists; pass --pcap-overwrite to replace it, or name a new file", errPcapExists, path)
	case errors.Is(err, unix.ELOOP):
		return nil, false, fmt.Errorf("--pcap %s is a symbolic link: not following it (name the file itself)", path)
	case errors.Is(err, unix.ENXIO):
		return nil, false, fmt.Errorf("--pcap %s is a FIFO or socket with no reader: want a regular file", path)
	case err != nil:
		return nil, false, fmt.Errorf("--pcap %s: open: %w", path, err)
	}
	fh := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		fh.Close()
		return nil, false, fmt.Errorf("--pcap %s: fstat: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		fh.Close()
		return nil, false, fmt.Errorf("--pcap %s is not a regular file (mode %#o): want a regular file", path, st.Mode)
	}
	if !overwrite {
		created = true
	} else {
		// An existing file is replaced: refuse one with other names (a hard
		// link could point at any file), then truncate it and make it 0600.
		if st.Nlink > 1 {
			fh.Close()
			return nil, false, fmt.Errorf("--pcap %s has %d hard links: not overwriting it", path, st.Nlink)
		}
		if err := errors.Join(unix.Ftruncate(fd, 0), unix.Fchmod(fd, 0o600)); err != nil {
			fh.Close()
			return nil, false, fmt.Errorf("--pcap %s: %w", path, err)
		}
	}
	// Regular files never block: clear O_NONBLOCK only for tidiness.
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	return fh, created, nil
}

// checkListenAddr checks the form of a --metrics address (HOST:PORT, HOST
// may be empty); whether it can be bound is the listener's business.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--metrics %q: want HOST:PORT or :PORT, e.g. :9100 (%v)", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return usagef("--metrics %q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// raiseMemlock raises the RLIMIT_MEMLOCK soft limit to the hard limit: VFIO
// pins DMA memory against it, and a shell's default soft limit (8 MiB or
// less) is often below what an administrator allowed as the hard limit.
func raiseMemlock() {
	var r unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &r)
	}
}
