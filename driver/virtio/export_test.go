package virtio

import "github.com/uiodrv/uiodrv/bus"

// FindCaps exposes findCaps: the BAR and offset of each capability type.
func FindCaps(cfg *bus.Config) (map[uint8][2]uint32, error) {
	cs, err := findCaps(cfg)
	out := map[uint8][2]uint32{}
	for t, c := range cs {
		out[t] = [2]uint32{uint32(c.bar), c.offset}
	}
	return out, err
}
