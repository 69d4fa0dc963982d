package uiodrv

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/uiodrv/uiodrv/driver"
)

// Port is a running NIC: the opened device and the core's port on it, with
// a top half and a bottom half per queue calling the Handler. It owns both;
// Close releases them, the port first, then the device, so that the NIC is
// stopped before its DMA memory is freed.
type Port struct {
	port *driver.Port
	dev  driver.Device

	// Guarded by fwdMu: the port Forward verdicts leave by, the ports
	// that forward into this one, and whether Close has begun.
	fwd      *Port
	from     map[*Port]bool
	isClosed bool

	once sync.Once
	err  error
}

var _ io.Closer = (*Port)(nil)

// fwdMu guards every Port's forward links: a port may only be closed once
// no other port forwards into it, so Close detaches those first.
var fwdMu sync.Mutex

// link records that p forwards to to (nil: nowhere). fwdMu held.
func (p *Port) link(to *Port) {
	if p.fwd != nil {
		delete(p.fwd.from, p)
	}
	p.fwd = to
	if to != nil {
		if to.from == nil {
			to.from = map[*Port]bool{}
		}
		to.from[p] = true
	}
}

// Open opens the NIC at the PCI address addr (e.g. "0000:00:03.0") with the
// driver family that registered its PCI ID, and starts a port on it with
// cfg. Bad configuration is refused before the device is touched (errors
// wrap driver.ErrBadConfig); an unsupported device wraps
// driver.ErrUnsupportedDevice. On error nothing is left open.
//
//	port, err := uiodrv.Open("0000:00:03.0", uiodrv.Config{
//		Mode:    uiodrv.ModeNAPI,
//		Handler: handler.Reflect{}, // or your own Handler
//	})
//	if err != nil {
//		return err
//	}
//	defer port.Close()
func Open(addr string, cfg Config) (*Port, error) {
	if err := cfg.check(cfg.queues()); err != nil {
		return nil, err
	}
	f, err := Probe(addr)
	if err != nil {
		return nil, err
	}
	dev, err := f.Open(cfg.openOptions())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Addr, err)
	}
	p, err := NewPort(dev, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Addr, err)
	}
	return p, nil
}

// NewPort starts a port on an opened device (one a family's Open returned,
// or a fake in tests) and takes it over: Port.Close closes it, and so does
// NewPort when it fails. cfg.Device is not used: the device is open.
func NewPort(dev driver.Device, cfg Config) (*Port, error) {
	nic, _ := dev.Queues()
	n := nic.Info().Queues
	if err := cfg.check(n); err != nil {
		dev.Close()
		return nil, err
	}
	dp, err := driver.NewPort(dev, cfg.portConfig(n))
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("start port: %w", err)
	}
	p := &Port{port: dp, dev: dev}
	fwdMu.Lock()
	p.link(cfg.Forward)
	fwdMu.Unlock()
	return p, nil
}

// SetForward makes to the port that Forward verdicts leave by (nil: they
// are dropped). It returns once no bottom half of p sends into the previous
// one, so two ports may forward to each other. Not from a Handler: it waits
// for the handlers of p to finish their batch.
func (p *Port) SetForward(to *Port) error {
	fwdMu.Lock()
	defer fwdMu.Unlock()
	if p.isClosed || to != nil && to.isClosed {
		return fmt.Errorf("set forward: %w", errClosed)
	}
	p.link(to)
	if to == nil {
		p.port.SetForward(nil)
	} else {
		p.port.SetForward(to.port)
	}
	return nil
}

var errClosed = errors.New("port closed")

func (p *Port) closed() bool {
	fwdMu.Lock()
	defer fwdMu.Unlock()
	return p.isClosed
}

// Close stops the port and releases the device: first every port that
// forwards into p stops doing so (its Forward verdicts are dropped from
// then on), then the port stops (interrupts off, bottom halves ended, the
// handler closed), then the device is reset and its DMA memory freed.
// Buffers the handler kept are invalid from the call on. Close is
// idempotent; it returns the first close's error.
func (p *Port) Close() error {
	p.once.Do(func() {
		fwdMu.Lock()
		p.isClosed = true
		for from := range p.from {
			from.port.SetForward(nil)
			from.fwd = nil
		}
		p.from = nil
		p.link(nil)
		fwdMu.Unlock()
		p.err = errors.Join(p.port.Close(), p.dev.Close())
	})
	return p.err
}

// Release gives back the buffer of a frame the handler kept (verdict Keep):
// see driver.Port.Release.
func (p *Port) Release(buf uint32) { p.port.Release(buf) }

// ReleaseMany is Release for several buffers.
func (p *Port) ReleaseMany(bufs []uint32) { p.port.ReleaseMany(bufs) }

// Transmit sends frames from outside the handler (a packet generator) on
// queue 0, copying each: see driver.Port.Transmit.
func (p *Port) Transmit(frames [][]byte) (int, error) { return p.port.Transmit(frames) }

// Stats returns the port's counters: frames received, handled, dropped by
// reason, transmitted; interrupts and bottom-half runs; the NIC's own.
func (p *Port) Stats() driver.Stats { return p.port.Stats() }

// Info describes the NIC: model, MAC address, queues, vectors.
func (p *Port) Info() *driver.NICInfo { return p.port.Info() }

// Driver is the core's port underneath, for what the front door does not
// offer (per-queue CPUs, top-half choice, real-time classes: driver.Config).
func (p *Port) Driver() *driver.Port { return p.port }
