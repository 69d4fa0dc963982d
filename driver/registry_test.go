package driver

import (
	"errors"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	saved := registry.families
	savedIDs := registry.byID
	t.Cleanup(func() { registry.families, registry.byID = saved, savedIDs })
	registry.families, registry.byID = nil, nil

	if _, _, err := Lookup(PCIID{0x8086, 0x100e}); !errors.Is(err, ErrUnsupportedDevice) || !strings.Contains(err.Error(), "import one") {
		t.Fatalf("empty registry: %v", err)
	}
	open := func(string, Model, OpenOptions) (Device, error) { return nil, nil }
	a := &Family{Name: "a", Open: open, RingSizes: RingSizes{Min: 8, Max: 4096, Default: 512, PowerOfTwo: true},
		Models: []Model{{ID: PCIID{1, 2}, Name: "A1", MaxQueues: 1}}}
	Register(a)
	f, m, err := Lookup(PCIID{1, 2})
	if err != nil || f != a || m.Name != "A1" {
		t.Fatalf("Lookup: %v %v %v", f, m, err)
	}
	if _, _, err := Lookup(PCIID{1, 3}); !errors.Is(err, ErrUnsupportedDevice) || !strings.Contains(err.Error(), "0001:0002 A1 (a)") {
		t.Fatalf("unknown ID: %v", err)
	}
	for _, bad := range []*Family{
		{Name: "a", Open: open, Models: []Model{{ID: PCIID{9, 9}, MaxQueues: 1}}}, // duplicate name
		{Name: "b", Open: open, Models: []Model{{ID: PCIID{1, 2}, MaxQueues: 1}}}, // duplicate ID
		{Name: "c", Models: []Model{{ID: PCIID{7, 7}, MaxQueues: 1}}},             // no Open
		{Name: "d", Open: open, Models: []Model{{ID: PCIID{8, 8}}}},               // no queue
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%s) did not panic", bad.Name)
				}
			}()
			Register(bad)
		}()
	}
	for _, c := range []struct {
		o  OpenOptions
		ok bool
	}{
		{OpenOptions{}, true},
		{OpenOptions{Queues: 1, RingSize: 256}, true},
		{OpenOptions{Queues: 2}, false},
		{OpenOptions{RingSize: 100}, false},
		{OpenOptions{RingSize: 8192}, false},
		{OpenOptions{ITR: -1}, false},
	} {
		var oe *OptionError
		if err := CheckOptions(a, m, c.o); (err == nil) != c.ok || (err != nil && (!errors.Is(err, ErrBadConfig) || !errors.As(err, &oe))) {
			t.Errorf("CheckOptions(%+v) = %v, want ok=%v", c.o, err, c.ok)
		}
	}
}
