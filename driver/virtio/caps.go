package virtio

import (
	"errors"
	"fmt"

	"github.com/uiodrv/uiodrv/bus"
)

// capRef is where a virtio structure lives: a BAR, an offset and a length.
type capRef struct {
	bar          int
	offset, size uint32
	mult         uint32 // notify_off_multiplier (notify capability only)
}

// ErrLegacyDevice is returned for a device without the modern virtio-pci
// capabilities (a legacy-only or transitional device in legacy mode).
var ErrLegacyDevice = errors.New("virtio: legacy device")

// findCaps walks the capability list for virtio's vendor capabilities
// (virtio 1.2 4.1.4) and returns the first of each type the driver needs:
// common, notify and device configuration.
func findCaps(cfg *bus.Config) (map[uint8]capRef, error) {
	st, err := cfg.Read16(bus.CfgStatus)
	if err != nil {
		return nil, fmt.Errorf("read PCI status: %w", err)
	}
	caps := map[uint8]capRef{}
	if st&bus.StatusCapList != 0 {
		p, err := cfg.Read8(bus.CfgCapPtr)
		if err != nil {
			return nil, fmt.Errorf("read capability pointer: %w", err)
		}
		for hops := 0; p >= 0x40 && hops < 48; hops++ { // stop on loops
			p &^= 3
			hdr, err := cfg.Read16(int(p))
			if err != nil {
				return nil, fmt.Errorf("read capability at %#x: %w", p, err)
			}
			if uint8(hdr) == CapVendor {
				if err := readCap(cfg, int(p), caps); err != nil {
					return nil, err
				}
			}
			p = uint8(hdr >> 8)
		}
	}
	for _, t := range []uint8{CapCommonCfg, CapNotifyCfg, CapDeviceCfg} {
		if _, ok := caps[t]; !ok {
			return nil, fmt.Errorf("%w: no virtio-pci capability of type %d (a modern 1.x device has common, notify and device ones): start QEMU's virtio-net-pci with disable-legacy=on", ErrLegacyDevice, t)
		}
	}
	return caps, nil
}

func readCap(cfg *bus.Config, p int, caps map[uint8]capRef) error {
	t, err := cfg.Read8(p + capCfgType)
	if err != nil {
		return err
	}
	if _, seen := caps[t]; seen || t < CapCommonCfg || t > CapDeviceCfg {
		return nil // the first of each type is the one to use (4.1.4.1)
	}
	var c capRef
	bar, err := cfg.Read8(p + capBAR)
	if err != nil {
		return err
	}
	c.bar = int(bar)
	if c.offset, err = cfg.Read32(p + capOffset); err != nil {
		return err
	}
	if c.size, err = cfg.Read32(p + capLength); err != nil {
		return err
	}
	if t == CapNotifyCfg {
		if c.mult, err = cfg.Read32(p + capNotifyOffMultiplier); err != nil {
			return err
		}
	}
	if c.bar > 5 {
		return nil // reserved BAR values are ignored (4.1.4.1)
	}
	caps[t] = c
	return nil
}

// transportFrom maps the BARs the capabilities name (mapBAR: the bus's)
// and returns windows onto each structure.
func transportFrom(caps map[uint8]capRef, mapBAR func(int) ([]byte, error)) (*Transport, error) {
	win := func(t uint8) (window, error) {
		c := caps[t]
		m, err := mapBAR(c.bar)
		if err != nil {
			return window{}, err
		}
		if uint64(c.offset)+uint64(c.size) > uint64(len(m)) {
			return window{}, fmt.Errorf("virtio capability %d: %d bytes at %#x outside BAR %d of %d bytes", t, c.size, c.offset, c.bar, len(m))
		}
		return window{m[c.offset : c.offset+c.size : c.offset+c.size]}, nil
	}
	var tr Transport
	var err error
	var w window
	if w, err = win(CapCommonCfg); err != nil {
		return nil, err
	}
	tr.Common = w
	if w, err = win(CapNotifyCfg); err != nil {
		return nil, err
	}
	tr.Notify, tr.NotifyOffMultiplier = w, caps[CapNotifyCfg].mult
	if w, err = win(CapDeviceCfg); err != nil {
		return nil, err
	}
	tr.Device = w
	return &tr, nil
}
