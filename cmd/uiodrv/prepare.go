package main

import (
	"fmt"
	"net"
	"strconv"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/handler"
	"github.com/uiodrv/uiodrv/internal/safefile"
)

// Everything a run can get wrong without the device is checked, and every
// file and socket it needs is opened, before the device is: a run that
// cannot work fails with the device untouched (never opened, reset or
// initialised). validate (run.go) checks the command line; prepare checks
// the machine and opens the metrics listener and the pcap file.

// prepared is what a run holds before it opens a device.
type prepared struct {
	metrics net.Listener   // nil without --metrics; served once the port runs
	pcap    *safefile.File // nil without --pcap (pcap.go)
	pcapOwn bool           // the capture owns (closes) pcap's file
	guard   *busGuard
}

// targets are the devices a run opens: --dev, and --fwd-dev with forward.
func (f *runFlags) targets() []target {
	ts := []target{{addr: f.addr, backend: f.parsedBack, hugepages: f.hugepages, ringSize: f.ringSize, queues: f.queues, api: f.vapi.parsed}}
	if f.fwdDev != "" {
		ts = append(ts, target{addr: f.fwdAdr, backend: f.parsedBack, hugepages: f.hugepages, ringSize: f.ringSize, queues: 1, api: f.vapi.parsed})
	}
	return ts
}

// prepare runs the preflight checks and opens what the run needs besides the
// device. On error everything it opened is closed again.
func prepare(f *runFlags, s bus.Sysfs, lim limits, guard *busGuard) (_ *prepared, err error) {
	for _, t := range f.targets() {
		t = f.chooseAPI(s, t) // vfioapi.go: auto resolved from sysfs and /dev
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
		if p.pcap, err = createPcap(f.pcap, f.pcapOverwrite); err != nil {
			return nil, err
		}
	}
	for _, t := range f.targets() {
		p.guard.add(s, t.addr)
		if t.backend == driver.BackendUIO {
			p.guard.armStopRX(s, t.addr, f.models[t.addr.String()])
		}
	}
	return p, nil
}

// createPcap makes the capture file (openPcap); the CLI fuzz test
// replaces it so that no file is made outside its folder.
var createPcap = openPcap

// release closes what the run did not hand on. failed says that the device
// never ran: then a pcap file this run created is removed again.
func (p *prepared) release(failed bool) {
	if p.metrics != nil {
		p.metrics.Close()
		p.metrics = nil
	}
	if p.pcap != nil {
		switch {
		case failed:
			p.pcap.Abort() // the old file, if any, stays as it was
		case !p.pcapOwn:
			p.pcap.Close()
		}
		p.pcap = nil
	}
	p.guard.close()
}

// capture turns the opened pcap file into the capture handler; the capture
// owns the file from then on, and release removes it if the device never
// ran.
func (p *prepared) capture() (*handler.Capture, error) {
	c, err := handler.NewCaptureFile(p.pcap.File)
	if err != nil {
		return nil, fmt.Errorf("--pcap: %w", err)
	}
	p.pcapOwn = true
	return c, nil
}

// commitPcap puts the capture in place once the device runs: with
// --pcap-overwrite the temporary file beside the old one replaces it now,
// not before (a run that fails earlier leaves the old file as it was).
func (p *prepared) commitPcap() error {
	if p.pcap == nil {
		return nil
	}
	if err := p.pcap.Commit(); err != nil {
		return fmt.Errorf("--pcap: %w", err)
	}
	return nil
}

// checkFeatures refuses options the device's model cannot do, from the
// device ID in sysfs: the NIC is never opened to find out. It records the
// model, which picks the driver that openDevice uses.
func checkFeatures(dev *bus.Device, t target, f *runFlags) error {
	fd, err := probeNIC(dev)
	if err != nil {
		return err // checkDevice reports it first, with the device's name
	}
	if f.models == nil {
		f.models = map[string]nicModel{}
	}
	f.models[dev.Addr.String()] = fd
	if err := checkQueues(dev.Addr.String(), fd.Model, t.queues); err != nil {
		return err
	}
	// The family refuses what its model cannot do (nics.go).
	return f.checkFound(fd, f.openOptions(dev.Addr))
}

// checkListenAddr checks the form of a --metrics address: IP:PORT, [IPv6]:PORT
// or :PORT (every interface); whether it can be bound is the listener's
// business. HOST must be an IP literal: a name would be resolved (as root,
// through whatever the resolver reads) and could listen somewhere else than
// meant. The endpoint serves goroutine stacks, so the examples use
// 127.0.0.1.
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--metrics %q: want IP:PORT, e.g. 127.0.0.1:9100 (%v)", addr, err)
	}
	if host != "" {
		if ip := net.ParseIP(host); ip == nil {
			return usagef("--metrics %q: %q is not an IP address (names are not resolved): use e.g. 127.0.0.1:%s or [::1]:%s", addr, host, port, port)
		}
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
